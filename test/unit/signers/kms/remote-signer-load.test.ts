import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  REMOTE_SIGNER_QUEUE_FULL,
  RemoteSigner,
  type RemoteCallPolicy,
  type RemoteSignatureApi,
} from '../../../../src/signers/kms/remote-signer.js';
import { QUEUE_FULL_RETRY_MS } from '../../../../src/signers/slot-queue.js';
import { signerFailuresTotal } from '../../../../src/signers/kms/remote-signer-metrics.js';
import { TimeStampRejection } from '../../../../src/tsp/rejection.js';
import { generateFakeKey, signDigest } from '../../../fakes/keys.js';
import { watchUnhandledRejections } from '../../../helpers/fault-tsa.js';

// RSA: the fake signs in-process and at once (its ECDSA path runs openssl), so only the timers the
// test runs decide when a call answers.
const fakeKey = generateFakeKey('rsa-2048');
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));

// Deadlines, backoffs, the service's latency and the signer's clock (Date.now, injected as `now`)
// all run on fake time: a busy machine cannot change what times out.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** The failure counter's value for each reason. */
async function failureCounts(): Promise<Record<string, number>> {
  const { values } = await signerFailuresTotal.get();
  return Object.fromEntries(values.map((value) => [String(value.labels.reason), value.value]));
}

/** How much each reason's count grew since `before`. */
async function failuresSince(before: Record<string, number>): Promise<Record<string, number>> {
  const after = await failureCounts();
  return Object.fromEntries(
    Object.entries(after)
      .map(([reason, value]) => [reason, value - (before[reason] ?? 0)] as const)
      .filter(([, grown]) => grown > 0),
  );
}

const httpError = (status: number, message: string) =>
  Object.assign(new Error(message), { status });

/** A service whose every call `answer` settles; `calls()` counts the calls that reached it. */
function serviceWith(answer: (digest: Buffer) => Promise<Uint8Array>) {
  let calls = 0;
  const api: RemoteSignatureApi = {
    id: 'test:key',
    describeKey: () => Promise.resolve({ publicKey: fakeKey.publicKey!, hash: 'sha256' }),
    signDigest(digest) {
      calls++;
      return answer(digest);
    },
    isThrottling: (error) => (error as { status?: number }).status === 429,
  };
  return { api, calls: () => calls };
}

const policy = (overrides: Partial<RemoteCallPolicy>): RemoteCallPolicy => ({
  timeoutMs: 100,
  maxConcurrency: 2,
  maxRetries: 0,
  backoffMs: 1,
  breaker: { threshold: 5, cooldownMs: 60_000 },
  now: () => Date.now(),
  ...overrides,
});

/** The outcome of a signature: 'signed', or its error's code (or status, or message). */
function outcomeOf(pending: Promise<Uint8Array>): Promise<string> {
  return pending.then(
    () => 'signed',
    (error: Error & { code?: string; status?: number }) =>
      error.code ?? (error.status === undefined ? error.message : `HTTP ${error.status}`),
  );
}

/** One request every 20 ms, `count` of them, then time for the last ones to end. */
async function steadyLoad(signer: RemoteSigner, count: number): Promise<string[]> {
  const outcomes: Promise<string>[] = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(outcomeOf(signer.sign(Buffer.from([i]))));
    await vi.advanceTimersByTimeAsync(20);
  }
  await vi.advanceTimersByTimeAsync(1_000);
  return Promise.all(outcomes);
}

describe('RemoteSigner: throttling against the deadline', () => {
  it('gives up at once when the next backoff would outlast --kms-timeout: throttled, not a timeout', async () => {
    // The longest backoffs (no jitter): 50, 100, 200 ms, then 400 ms would end at 750 ms.
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const service = serviceWith(() => Promise.reject(httpError(429, 'rate exceeded')));
    const signer = await RemoteSigner.create(
      service.api,
      'sha256',
      policy({
        timeoutMs: 500,
        maxConcurrency: 8,
        maxRetries: 5,
        backoffMs: 50,
        breaker: { threshold: 3, cooldownMs: 60_000 },
      }),
    );
    const before = await failureCounts();
    for (let i = 0; i < 4; i++) {
      const startedAt = Date.now();
      const outcome = outcomeOf(signer.sign(Buffer.from([i])));
      await vi.runAllTimersAsync();
      expect(await outcome).toBe('HTTP 429');
      expect(Date.now() - startedAt).toBe(350);
    }
    expect(service.calls()).toBe(16);
    // The KMS answered every call: throttling keeps the breaker closed.
    expect(signer.breaker.state).toBe('closed');
    expect(await failuresSince(before)).toEqual({ throttled: 4 });
  });
});

describe('RemoteSigner: a hung service under steady load, fewer slots than the breaker threshold', () => {
  it('opens the breaker: calls that waited for a slot while the service answered none are timeouts', async () => {
    const service = serviceWith(() => new Promise(() => {}));
    const signer = await RemoteSigner.create(service.api, 'sha256', policy({}));
    const before = await failureCounts();
    const outcomes = await steadyLoad(signer, 50);
    expect(signer.breaker.state).toBe('open');
    expect(outcomes.at(-1)).toBe('CIRCUIT_OPEN');
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('TIMEOUT'));
    const grown = await failuresSince(before);
    expect(grown['timeout']).toBeGreaterThanOrEqual(5);
    expect(grown['saturated']).toBeUndefined();
    // Once open, the hung service is no longer called.
    expect(service.calls()).toBeLessThan(10);
  });

  it('leaves it closed for a busy service that answers: calls that waited meanwhile are saturated', async () => {
    // 60 ms a signature, 2 slots: 33 signatures a second against the 50 asked for.
    const service = serviceWith(
      (digest) =>
        new Promise((resolve) =>
          setTimeout(() => resolve(signDigest(fakeKey, digest, 'sha256')), 60),
        ),
    );
    const signer = await RemoteSigner.create(service.api, 'sha256', policy({}));
    const before = await failureCounts();
    const outcomes = await steadyLoad(signer, 50);
    expect(signer.breaker.state).toBe('closed');
    expect(outcomes).toContain('signed');
    expect(outcomes).toContain('TIMEOUT');
    expect(outcomes).not.toContain('CIRCUIT_OPEN');
    const grown = await failuresSince(before);
    expect(grown['saturated']).toBeGreaterThan(0);
    expect(grown['timeout']).toBeUndefined();
  });

  it('counts a refusal as an answer, a failed connection as none', async () => {
    // One slot. A is answered at 90 ms; B, asked at 10 ms, waits for A's slot, gets it with 20 ms
    // of its deadline left, and the service does not answer it.
    const outcomesWhenAIs = async (answerToA: Error) => {
      let call = 0;
      const service = serviceWith(() =>
        call++ === 0
          ? new Promise((_, reject) => setTimeout(() => reject(answerToA), 90))
          : new Promise(() => {}),
      );
      const signer = await RemoteSigner.create(
        service.api,
        'sha256',
        policy({ maxConcurrency: 1, breaker: { threshold: 1, cooldownMs: 60_000 } }),
      );
      const before = await failureCounts();
      const a = outcomeOf(signer.sign(Buffer.from('a')));
      await vi.advanceTimersByTimeAsync(10);
      const b = outcomeOf(signer.sign(Buffer.from('b')));
      await vi.advanceTimersByTimeAsync(1_000);
      return {
        a: await a,
        b: await b,
        grown: await failuresSince(before),
        breaker: signer.breaker,
      };
    };
    // A refused (403): the service was answering during B's deadline, B met a busy service.
    const refused = await outcomesWhenAIs(httpError(403, 'denied'));
    expect(refused).toMatchObject({ a: 'HTTP 403', b: 'TIMEOUT' });
    expect(refused.grown).toEqual({ client_error: 1, saturated: 1 });
    expect(refused.breaker.state).toBe('closed');
    // A's connection reset: nothing answered during B's deadline, B's timeout counts.
    const reset = await outcomesWhenAIs(
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    );
    expect(reset).toMatchObject({ a: 'ECONNRESET', b: 'TIMEOUT' });
    expect(reset.grown).toEqual({ connection: 1, timeout: 1 });
  });
});

describe('RemoteSigner: a slow KMS that still answers (the breaker stays closed)', () => {
  it('lets maxWaiting calls wait, refuses the next at once (temporary, queue_full), and takes calls again once answers come', async () => {
    // The service holds every answer until the test lets them go.
    let releaseAnswers = (): void => undefined;
    const held = new Promise<void>((resolve) => (releaseAnswers = resolve));
    const service = serviceWith(async (digest) => {
      await held;
      return signDigest(fakeKey, digest, 'sha256');
    });
    const signer = await RemoteSigner.create(
      service.api,
      'sha256',
      policy({ maxConcurrency: 2, maxWaiting: 8, timeoutMs: 300_000 }),
    );
    const before = await failureCounts();
    // 2 in flight, then 8 waiting: the bound.
    const admitted = Array.from({ length: 10 }, (_, i) => outcomeOf(signer.sign(Buffer.from([i]))));
    await vi.advanceTimersByTimeAsync(0);
    expect(service.calls()).toBe(2);
    expect(signer.waiting).toBe(8);

    let refused: unknown = 'still waiting';
    void signer.sign(Buffer.from('one more')).then(
      () => (refused = 'signed'),
      (error: unknown) => (refused = error),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(refused).toBeInstanceOf(TimeStampRejection);
    expect(refused).toMatchObject({
      failInfo: 'systemFailure',
      temporary: true,
      retryInMs: QUEUE_FULL_RETRY_MS,
      detail: REMOTE_SIGNER_QUEUE_FULL,
    });
    // Refused without queueing or calling the service, and not held against it.
    expect(signer.waiting).toBe(8);
    expect(service.calls()).toBe(2);
    expect(signer.breaker.state).toBe('closed');
    expect(await failuresSince(before)).toEqual({ queue_full: 1 });

    releaseAnswers();
    expect(await Promise.all(admitted)).toEqual(Array(10).fill('signed'));
    expect(signer.waiting).toBe(0);
    expect(await outcomeOf(signer.sign(Buffer.from('after')))).toBe('signed');
    expect(await failuresSince(before)).toEqual({ queue_full: 1 });
  });
});
