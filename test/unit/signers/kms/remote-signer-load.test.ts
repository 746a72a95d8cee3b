import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  RemoteSigner,
  type RemoteCallPolicy,
  type RemoteSignatureApi,
} from '../../../../src/signers/kms/remote-signer.js';
import { signerFailuresTotal } from '../../../../src/signers/kms/remote-signer-metrics.js';
import { generateFakeKey } from '../../../fakes/keys.js';
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
