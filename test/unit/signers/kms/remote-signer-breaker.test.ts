import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  RemoteSigner,
  type RemoteSignatureApi,
} from '../../../../src/signers/kms/remote-signer.js';
import { generateFakeKey, signDigest } from '../../../fakes/keys.js';
import { watchUnhandledRejections } from '../../../helpers/fault-tsa.js';

// RSA: the fake signs in-process and at once (its ECDSA path runs openssl), so only the timers the
// test runs can end a call.
const fakeKey = generateFakeKey('rsa-2048');
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));

// The deadline and the backoff run on fake timers: a busy machine cannot make a signature "time
// out", and a hung call times out exactly when the test advances the clock.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

type Step = 'ok' | 'server-error' | 'client-error' | 'throttle' | 'reset' | 'hang';

/** A remote API that plays `script` (then signs), counting the calls that reach it. */
async function signerWith(script: Step[], threshold = 3) {
  const clock = { now: 0 };
  let calls = 0;
  const api: RemoteSignatureApi = {
    id: 'test:key',
    describeKey: () => Promise.resolve({ publicKey: fakeKey.publicKey!, hash: 'sha256' }),
    async signDigest(digest) {
      calls++;
      const step = script.shift() ?? 'ok';
      if (step === 'server-error') throw Object.assign(new Error('internal'), { status: 503 });
      if (step === 'client-error') throw Object.assign(new Error('denied'), { status: 403 });
      if (step === 'throttle') throw Object.assign(new Error('slow down'), { status: 429 });
      if (step === 'reset')
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      if (step === 'hang') await new Promise(() => {});
      return signDigest(fakeKey, digest, 'sha256');
    },
    isThrottling: (error) => (error as { status?: number }).status === 429,
  };
  const signer = await RemoteSigner.create(api, 'sha256', {
    timeoutMs: 200,
    maxConcurrency: 4,
    maxRetries: 1,
    backoffMs: 1,
    breaker: { threshold, cooldownMs: 1_000, now: () => clock.now },
  });
  /** One signature, with every timer it sets (deadline, backoff) run to its end. */
  const sign = async () => {
    const outcome = signer.sign(Buffer.from('data')).then(
      () => 'signed',
      (error: Error) => error.message,
    );
    await vi.runAllTimersAsync();
    return outcome;
  };
  return { signer, clock, sign, calls: () => calls };
}

describe('RemoteSigner with its circuit breaker', () => {
  it('opens after consecutive timeouts, resets and 5xx, then refuses without calling the service', async () => {
    const { signer, sign, calls } = await signerWith(['hang', 'reset', 'server-error']);
    await sign();
    await sign();
    expect(signer.breaker.state).toBe('closed');
    await sign();
    expect(signer.breaker.state).toBe('open');
    expect(calls()).toBe(3);
    expect(await sign()).toBe(
      'test:key: remote signer unavailable: circuit breaker open after 3 consecutive failures',
    );
    expect(calls()).toBe(3);
  });

  it('does not count throttling or 4xx: the service answered', async () => {
    const { signer, sign } = await signerWith(
      ['throttle', 'throttle', 'client-error', 'throttle', 'throttle', 'client-error'],
      2,
    );
    for (let i = 0; i < 4; i++) expect(await sign()).not.toBe('signed');
    expect(signer.breaker.state).toBe('closed');
    expect(await sign()).toBe('signed');
  });

  it('a 4xx between failures resets the count', async () => {
    const { signer, sign } = await signerWith(['reset', 'client-error', 'reset', 'ok'], 2);
    await sign();
    await sign();
    await sign();
    expect(signer.breaker.state).toBe('closed');
  });

  it('does not count a call the caller abandoned', async () => {
    const { signer } = await signerWith(['hang'], 1);
    const controller = new AbortController();
    const pending = signer.sign(Buffer.from('data'), controller.signal);
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
    expect(signer.breaker.state).toBe('closed');
  });

  it('after the cool-down lets one probe through; a signature closes the circuit', async () => {
    const { signer, clock, sign, calls } = await signerWith(['reset', 'reset', 'reset']);
    for (let i = 0; i < 3; i++) await sign();
    clock.now += 999;
    expect(await sign()).toMatch(/circuit breaker open/);
    clock.now += 1;
    expect(await sign()).toBe('signed');
    expect(calls()).toBe(4);
    expect(signer.breaker.state).toBe('closed');
  });
});
