import { sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RemoteSigner,
  type RemoteCallPolicy,
  type RemoteSignatureApi,
} from '../../../../src/signers/kms/remote-signer.js';
import { ecdsaRawToDer } from '../../../../src/signers/kms/ecdsa-signature.js';
import { ServiceErrorSummary } from '../../../../src/signers/kms/failure-reason.js';
import { generateFakeKey, signDigest } from '../../../fakes/keys.js';

const fakeKey = generateFakeKey('ec-p256');
const keys = { publicKey: fakeKey.publicKey!, privateKey: fakeKey.privateKey! };
const policy: RemoteCallPolicy = {
  timeoutMs: 2_000,
  maxConcurrency: 2,
  maxRetries: 2,
  backoffMs: 1,
};

class ThrottlingError extends Error {}

/** A scripted remote API: each sign call takes the next behaviour, or signs when none is left. */
function scriptedApi(script: ('throttle' | 'fail' | 'hang' | 'late-failure' | 'slow')[] = []) {
  const state = { inFlight: 0, maxInFlight: 0, calls: 0, signals: [] as AbortSignal[] };
  const api: RemoteSignatureApi = {
    id: 'test:key',
    describeKey: () => Promise.resolve({ publicKey: keys.publicKey, hash: 'sha256' }),
    async signDigest(digest, _algorithm, signal) {
      state.calls++;
      state.signals.push(signal);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      try {
        const step = script.shift();
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (step === 'throttle') throw new ThrottlingError('slow down');
        if (step === 'fail') throw new Error('boom');
        if (step === 'hang') await new Promise(() => {});
        if (step === 'slow') await new Promise((resolve) => setTimeout(resolve, 60));
        if (step === 'late-failure') {
          // Ignores the signal, then fails long after the caller gave up.
          await new Promise((resolve) => setTimeout(resolve, 200));
          throw new Error('late');
        }
        return signDigest(fakeKey, digest, 'sha256');
      } finally {
        state.inFlight--;
      }
    },
    isThrottling: (error) => error instanceof ThrottlingError,
  };
  return { api, state };
}

/** The reason `signal` aborts with, once it does. */
function abortReason(signal: AbortSignal | undefined): Promise<unknown> {
  if (!signal) return Promise.reject(new Error('no call was made'));
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  );
}

/** Resolves once `condition` holds (checked every 5 ms; the test's timeout guards a hang). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * For the tests whose point is which deadline passes: fake timers, and the signer's clock (`now`)
 * following them, so the service's latency, the backoffs and the deadlines run on fake time and a
 * busy machine cannot change what times out. The test then moves the clock (runAllTimersAsync).
 */
function onFakeTime(overrides: Partial<RemoteCallPolicy>): RemoteCallPolicy {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  return { ...policy, now: () => Date.now(), ...overrides };
}
afterEach(() => {
  vi.useRealTimers();
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
afterEach(() => expect(unhandled).toEqual([]));

describe('RemoteSigner', () => {
  it('derives the algorithm from the key and refuses another hash at start', async () => {
    const { api } = scriptedApi();
    const signer = await RemoteSigner.create(api, 'sha256', policy);
    expect(signer.algorithm).toMatchObject({ keyType: 'ec', hash: 'sha256', curve: 'prime256v1' });
    await expect(RemoteSigner.create(api, 'sha512', policy)).rejects.toThrow(
      'test:key: the key signs with SHA256 but --timestamp-signer-hash is sha512; set --timestamp-signer-hash=sha256',
    );
  });

  it('never has more calls in flight than maxConcurrency', async () => {
    const { api, state } = scriptedApi();
    const signer = await RemoteSigner.create(api, 'sha256', policy);
    await Promise.all(Array.from({ length: 7 }, (_, i) => signer.sign(Buffer.from(`data ${i}`))));
    expect(state.calls).toBe(7);
    expect(state.maxInFlight).toBe(2);
  });

  it('retries throttling up to maxRetries and never retries other errors', async () => {
    const throttled = scriptedApi(['throttle', 'throttle']);
    const signer = await RemoteSigner.create(throttled.api, 'sha256', policy);
    await expect(signer.sign(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
    expect(throttled.state.calls).toBe(3);

    const exhausted = scriptedApi(['throttle', 'throttle', 'throttle', 'throttle']);
    const signer2 = await RemoteSigner.create(exhausted.api, 'sha256', policy);
    await expect(signer2.sign(Buffer.from('x'))).rejects.toThrow('slow down');
    expect(exhausted.state.calls).toBe(3);

    const failing = scriptedApi(['fail']);
    const signer3 = await RemoteSigner.create(failing.api, 'sha256', policy);
    await expect(signer3.sign(Buffer.from('x'))).rejects.toThrow('boom');
    expect(failing.state.calls).toBe(1);
  });

  it('a client gone ends the retries after throttling: no more calls, the slot freed at once', async () => {
    const { api, state } = scriptedApi(['throttle']);
    // One slot, and a backoff long enough that the client's abort lands during the first pause
    // (a retry would sign, for no one, before the next request got the slot).
    const signer = await RemoteSigner.create(api, 'sha256', {
      ...policy,
      maxConcurrency: 1,
      backoffMs: 60_000,
      timeoutMs: 300_000,
    });
    const client = new AbortController();
    const gone = signer.sign(Buffer.from('x'), client.signal);
    gone.catch(() => undefined);
    while (!(state.calls === 1 && state.inFlight === 0)) await new Promise((r) => setTimeout(r, 5));
    client.abort(new Error('client went away'));
    await expect(gone).rejects.toThrow();
    // The next request gets the slot the retries held: signed by the next call, the second.
    await expect(signer.sign(Buffer.from('y'))).resolves.toBeInstanceOf(Buffer);
    expect(state.calls).toBe(2);
  });

  it('a client already gone calls nothing', async () => {
    const { api, state } = scriptedApi();
    const signer = await RemoteSigner.create(api, 'sha256', policy);
    await expect(
      signer.sign(Buffer.from('x'), AbortSignal.abort(new Error('gone'))),
    ).rejects.toThrow('gone');
    expect(state.calls).toBe(0);
  });

  it("reports an SDK's error as its provider describes it, judged on the error itself", async () => {
    const { api, state } = scriptedApi(['throttle', 'fail', 'hang']);
    api.describeError = (error) => `Fake KMS: ${(error as Error).message.length} characters`;
    const signer = await RemoteSigner.create(
      api,
      'sha256',
      onFakeTime({ timeoutMs: 500, breaker: { threshold: 1, cooldownMs: 60_000 } }),
    );
    // The throttling was retried (isThrottling saw the SDK's error), then the failure described.
    const described = expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'SERVICE_FAILED',
      message: 'test:key: Fake KMS: 4 characters',
    });
    await vi.runAllTimersAsync();
    await described;
    expect(state.calls).toBe(2);
    expect(signer.breaker.state).toBe('open');
    // Our own errors are not described: the deadline's stays itself.
    const hung = await RemoteSigner.create(api, 'sha256', onFakeTime({ timeoutMs: 50 }));
    const timedOut = expect(hung.sign(Buffer.from('x'))).rejects.toMatchObject({ code: 'TIMEOUT' });
    await vi.runAllTimersAsync();
    await timedOut;
    // At start: described, and the SDK's error (its message whole) is kept only as its summary.
    api.describeKey = () => Promise.reject(new Error('x'.repeat(300_000)));
    const failure = (await RemoteSigner.create(api, 'sha256', policy).catch(
      (error: unknown) => error,
    )) as Error;
    expect(failure).toMatchObject({
      code: 'KEY_UNREADABLE',
      message: 'test:key: cannot read the public key: Fake KMS: 300000 characters',
    });
    expect(failure.cause).toBeInstanceOf(ServiceErrorSummary);
    expect(JSON.stringify(failure.cause).length).toBeLessThan(200);
    expect((failure.cause as Error).stack).not.toContain('xxx');
  });

  it('rejects at the deadline when the service hangs, aborting the signal it was given', async () => {
    const { api, state } = scriptedApi(['hang']);
    const signer = await RemoteSigner.create(api, 'sha256', { ...policy, timeoutMs: 100 });
    await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(
      'remote signer did not answer within 100 ms',
    );
    expect(state.signals[0]?.aborted).toBe(true);
  });

  it('a call waiting for a slot gives up when its signal aborts, without reaching the service', async () => {
    const { api, state } = scriptedApi(['hang']);
    const signer = await RemoteSigner.create(
      api,
      'sha256',
      onFakeTime({ timeoutMs: 100, maxConcurrency: 1 }),
    );
    const holder = new AbortController();
    const first = signer.sign(Buffer.from('a'), holder.signal);
    const waiter = new AbortController();
    const second = signer.sign(Buffer.from('b'), waiter.signal);
    waiter.abort(new Error('waited too long'));
    await expect(second).rejects.toThrow('waited too long');
    expect(state.calls).toBe(1);
    // The first call's client gives up too; its call, already sent, keeps its slot until its
    // deadline, then the slot serves the next call.
    holder.abort(new Error('released'));
    await expect(first).rejects.toThrow('released');
    // Its call ends at its deadline, not with its client.
    const reason = abortReason(state.signals[0]);
    await vi.runAllTimersAsync();
    expect(await reason).toMatchObject({ code: 'TIMEOUT' });
    const signed = expect(signer.sign(Buffer.from('c'))).resolves.toBeInstanceOf(Buffer);
    await vi.runAllTimersAsync();
    await signed;
    expect(state.calls).toBe(2);
  });

  it("stops waiting when the caller's signal aborts; the call sent runs to its deadline and counts", async () => {
    const { api, state } = scriptedApi(['hang', 'hang']);
    const signer = await RemoteSigner.create(api, 'sha256', {
      ...policy,
      timeoutMs: 100,
      breaker: { threshold: 2, cooldownMs: 60_000 },
    });
    for (const [i, reason] of ['client went away', 'client went away too'].entries()) {
      const controller = new AbortController();
      const pending = signer.sign(Buffer.from('x'), controller.signal);
      expect(state.calls).toBe(i + 1); // sent at once: a slot was free
      controller.abort(new Error(reason));
      await expect(pending).rejects.toThrow(reason);
      // Not cancelled with the client: it ends at its deadline, and the service's silence is what
      // the breaker learns from.
      expect(await abortReason(state.signals[i])).toMatchObject({ code: 'TIMEOUT' });
    }
    // Two calls the service never answered: the breaker is open, though no client waited for them.
    await until(() => signer.breaker.state === 'open');
    await expect(signer.sign(Buffer.from('y'))).rejects.toThrow(/circuit breaker open/);
    expect(state.calls).toBe(2);
  });

  it('counts an answer its accept check refuses as a failure of the service', async () => {
    const { api } = scriptedApi();
    const signer = await RemoteSigner.create(api, 'sha256', {
      ...policy,
      breaker: { threshold: 2, cooldownMs: 60_000 },
    });
    const refuse = () => {
      throw new Error('signature does not verify');
    };
    for (let i = 0; i < 2; i++)
      await expect(signer.sign(Buffer.from('x'), undefined, refuse)).rejects.toThrow(
        'signature does not verify',
      );
    await until(() => signer.breaker.state === 'open');
    // An accepted answer, by contrast, closes nothing and counts as answered.
    const accepting = await RemoteSigner.create(scriptedApi().api, 'sha256', {
      ...policy,
      breaker: { threshold: 1, cooldownMs: 60_000 },
    });
    let seen: Uint8Array | undefined;
    const signature = await accepting.sign(Buffer.from('x'), undefined, (answer) => {
      seen = answer;
    });
    expect(seen).toBe(signature);
    expect(accepting.breaker.state).toBe('closed');
  });

  it('a call that got its slot late and ran out of time does not count against the service', async () => {
    const { api, state } = scriptedApi(['slow', 'slow']);
    const signer = await RemoteSigner.create(
      api,
      'sha256',
      onFakeTime({
        timeoutMs: 100,
        maxConcurrency: 1,
        breaker: { threshold: 1, cooldownMs: 60_000 },
      }),
    );
    // Each call takes 65 ms (fake) of the service: the first answers; the second waits for the
    // slot, and the 35 ms left of its 100 ms are not enough.
    const first = expect(signer.sign(Buffer.from('a'))).resolves.toBeInstanceOf(Buffer);
    const second = expect(signer.sign(Buffer.from('b'))).rejects.toThrow(
      'remote signer did not answer within 100 ms',
    );
    await vi.runAllTimersAsync();
    await first;
    await second;
    expect(state.calls).toBe(2);
    expect(signer.breaker.consecutiveFailures).toBe(0);
    expect(signer.breaker.state).toBe('closed');
  });

  it('does not leak an unhandled rejection when an abandoned call fails later', async () => {
    const { api, state } = scriptedApi(['late-failure']);
    const signer = await RemoteSigner.create(api, 'sha256', onFakeTime({ timeoutMs: 50 }));
    const gaveUp = expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/did not answer/);
    // Past the deadline (50 ms) and the call's late failure (205 ms): every timer has run.
    await vi.runAllTimersAsync();
    await gaveUp;
    expect(state.calls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    // A turn of the real event loop: Node reports an unhandled rejection after the microtasks.
    await new Promise((resolve) => setImmediate(resolve));
    // afterEach checks that nothing reached 'unhandledRejection'.
  });

  it('returns signatures that verify over the data (hashed locally)', async () => {
    const { api } = scriptedApi();
    const signer = await RemoteSigner.create(api, 'sha256', policy);
    const data = Buffer.from('signed attributes');
    expect(verify('sha256', data, keys.publicKey, await signer.sign(data))).toBe(true);
  });
});

describe('ecdsaRawToDer', () => {
  it('matches openssl/node DER for the same signature, including high-bit and short r/s', () => {
    for (let i = 0; i < 50; i++) {
      const raw = sign('sha256', Buffer.from(`m${i}`), {
        key: keys.privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      const der = ecdsaRawToDer(raw);
      expect(
        verify('sha256', Buffer.from(`m${i}`), { key: keys.publicKey, dsaEncoding: 'der' }, der),
      ).toBe(true);
    }
    expect(() => ecdsaRawToDer(Buffer.alloc(63))).toThrow(/odd length/);
    // With the curve known (P-384: 96 bytes), another even length is refused too.
    expect(() => ecdsaRawToDer(Buffer.alloc(64, 1), 96)).toThrow(
      "raw ECDSA signature has 64 bytes, not the curve's 96",
    );
    expect(ecdsaRawToDer(Buffer.alloc(96, 1), 96)[0]).toBe(0x30);
  });
});
