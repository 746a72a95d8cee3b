/**
 * Module errors injected into the pkcs11 signer (the real SoftHSM2 module, wrapped): the return
 * values that mean the token or the session is gone open the circuit breaker, and the probe after
 * the cool-down re-initializes the module and signs again; other errors fail one signature only;
 * a token that does not answer fails its signatures at the deadline.
 */
import { randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { CKF_OS_LOCKING_OK } from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { signerFailureCounts } from '../../../helpers/fault-tsa.js';
import { SoftHsm } from '../../../helpers/softhsm.js';

const hsm = new SoftHsm();
/** Errors the next signatures fail with, by CKR_ name (pkcs11js puts it in the message). */
const failNext: string[] = [];
const calls = { initialize: [] as unknown[], finalize: 0, sign: 0 };
/** Signatures held as a token that does not answer would; each resumes (signs) when called. */
const held: (() => Promise<Buffer>)[] = [];
let holdNext = 0;
/** Sessions being closed (a dispose closes its idle sessions without waiting for the module). */
const closing: Promise<unknown>[] = [];
/** Module calls other than signatures that fail, by CKR_ name, until the test deletes them. */
const failing = new Map<'C_GetAttributeValue' | 'C_GetTokenInfo', string>();

/** The module in its process, its answers to the signer altered as the tests ask. */
const faultyModule: LoadModule = async (path, settings) => {
  const module = await loadInHost(path, settings);
  const overrides: Partial<typeof module> = {
    C_Initialize: (options) => {
      calls.initialize.push(options);
      return module.C_Initialize(options);
    },
    C_Finalize: () => {
      calls.finalize++;
      return module.C_Finalize();
    },
    C_GetAttributeValue: (...args) => {
      const fault = failing.get('C_GetAttributeValue');
      return fault ? Promise.reject(new Error(fault)) : module.C_GetAttributeValue(...args);
    },
    C_GetTokenInfo: (...args) => {
      const fault = failing.get('C_GetTokenInfo');
      return fault ? Promise.reject(new Error(fault)) : module.C_GetTokenInfo(...args);
    },
    C_CloseSession: (...args) => {
      const closed = module.C_CloseSession(...args);
      closing.push(closed);
      return closed;
    },
    sign: (...args) => {
      calls.sign++;
      const fault = failNext.shift();
      // pkcs11js's errors carry the CKR_ name as their message.
      if (fault) return Promise.reject(new Error(fault));
      if (holdNext > 0) {
        holdNext--;
        return new Promise<Buffer>((resolve, reject) =>
          held.push(() => {
            const signing = module.sign(...args);
            signing.then(resolve, reject);
            return signing;
          }),
        );
      }
      return module.sign(...args);
    },
  };
  return new Proxy(module, {
    get: (target, name) =>
      (overrides as Record<string | symbol, unknown>)[name] ?? Reflect.get(target, name),
  });
};

let now = 0;
let signer: Pkcs11Signer;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
    loadModule: faultyModule,
    breaker: { threshold: 1, cooldownMs: 1_000, now: () => now },
  });
});
afterAll(async () => {
  await signer?.[Symbol.asyncDispose]();
  hsm.cleanup();
});

async function signsAndVerifies(by: Pkcs11Signer = signer): Promise<void> {
  const data = randomBytes(40);
  const signature = await by.sign(data);
  const [digest, key] = nodeSignatureArguments(by.algorithm, by.publicKey);
  expect(verify(digest, data, key, signature)).toBe(true);
}

/** One turn of the event loop: every pending promise continuation runs. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('pkcs11 signer faults', () => {
  it('initializes the module for threads (CKF_OS_LOCKING_OK): C_Sign runs on several at once', () => {
    expect(calls.initialize).toEqual([{ flags: CKF_OS_LOCKING_OK }]);
  });

  it.each(['CKR_SESSION_HANDLE_INVALID', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT'])(
    '%s opens the breaker; the probe after the cool-down reopens the module and signs',
    async (code) => {
      await signsAndVerifies();
      const initializations = calls.initialize.length;
      failNext.push(code);
      await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
        code: 'TOKEN_UNAVAILABLE',
        message: `pkcs11:token=tsa;object=tsa-key: the token is unavailable (${code})`,
      });
      expect(signer.unavailableReason()).toMatch(/circuit breaker open after 1 consecutive/);
      const signs = calls.sign;
      await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
        code: 'TOKEN_UNAVAILABLE',
      });
      expect(calls.sign).toBe(signs); // refused without calling the token
      now += 1_000;
      expect(signer.unavailableReason()).toBeUndefined();
      await signsAndVerifies();
      expect(calls.initialize.length).toBe(initializations + 1);
      expect(signer.unavailableReason()).toBeUndefined();
    },
  );

  it('another error fails that signature only: no re-initialization, the session pool goes on', async () => {
    const initializations = calls.initialize.length;
    failNext.push('CKR_FUNCTION_FAILED');
    await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'SIGN_FAILED',
      message: 'pkcs11:token=tsa;object=tsa-key: C_Sign failed (CKR_FUNCTION_FAILED)',
    });
    now += 1_000;
    await signsAndVerifies();
    expect(calls.initialize.length).toBe(initializations);
  });

  it.each([
    ['C_GetAttributeValue', 'CKR_DEVICE_REMOVED'],
    ['C_GetTokenInfo', 'CKR_DEVICE_ERROR'],
  ] as const)(
    'a token gone while the reconnection reads it again (%s: %s) is a token gone, not a key or token missing',
    async (call, code) => {
      await signsAndVerifies();
      failNext.push('CKR_SESSION_HANDLE_INVALID'); // the next signature reconnects
      await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
        code: 'TOKEN_UNAVAILABLE',
      });
      now += 1_000;
      failing.set(call, code);
      const failuresBefore = await signerFailureCounts();
      try {
        await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
          code: 'TOKEN_UNAVAILABLE',
          message: `pkcs11:token=tsa;object=tsa-key: the token is unavailable (${code})`,
        });
      } finally {
        failing.delete(call);
      }
      const failures = await signerFailureCounts();
      expect(failures['connection']).toBe((failuresBefore['connection'] ?? 0) + 1);
      expect(failures['server_error']).toBe(failuresBefore['server_error'] ?? 0);
      now += 1_000;
      await signsAndVerifies();
    },
  );

  describe('a token that does not answer', () => {
    // The deadline is a timer: faked, so that it fires when the test says, never because the
    // machine is slow (real C_Sign calls still run on the thread pool in real time).
    const TIMEOUT_MS = 60_000;
    let slow: Pkcs11Signer;
    beforeAll(async () => {
      slow = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
        loadModule: faultyModule,
        maxSessions: 1,
        timeoutMs: TIMEOUT_MS,
        breaker: { threshold: 2, cooldownMs: 1_000, now: () => now },
      });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    });
    afterAll(() => vi.useRealTimers());

    it('fails each signature at the deadline, holds the session until the token answers, and feeds the breaker', async () => {
      const failuresBefore = await signerFailureCounts();
      holdNext = 1;
      const first = slow.sign(Buffer.from('x'));
      first.catch(() => {});
      await turn();
      expect(held).toHaveLength(1);
      vi.advanceTimersByTime(TIMEOUT_MS);
      await expect(first).rejects.toMatchObject({
        code: 'TIMEOUT',
        message: `pkcs11:token=tsa;object=tsa-key: no signature within ${TIMEOUT_MS} ms`,
      });
      // Its one session is still the token's: the next signature waits for it, not for the token.
      const signs = calls.sign;
      const second = slow.sign(Buffer.from('x'));
      second.catch(() => {});
      await turn();
      vi.advanceTimersByTime(TIMEOUT_MS);
      await expect(second).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(calls.sign).toBe(signs);
      expect(slow.unavailableReason()).toMatch(/circuit breaker open after 2 consecutive/);
      const failures = await signerFailureCounts();
      expect(failures['timeout']).toBe((failuresBefore['timeout'] ?? 0) + 2);
      // The token answers at last: the session comes back, and after the cool-down the probe signs.
      await held.shift()?.();
      await turn();
      now += 1_000;
      await signsAndVerifies(slow);
      expect(calls.sign).toBe(signs + 1);
      expect(slow.unavailableReason()).toBeUndefined();
    });

    it('dispose waits for a C_Sign still running, one deadline at most', async () => {
      await signer[Symbol.asyncDispose](); // `slow` is the module's last user: its dispose would finalize
      // Its sessions closed before the fake clock jumps: a close still unanswered then would be
      // taken for a stuck module (whatever the real time the module process took to answer).
      await Promise.allSettled(closing.splice(0));
      holdNext = 1;
      const hung = slow.sign(Buffer.from('x'));
      hung.catch(() => {});
      await turn();
      vi.advanceTimersByTime(TIMEOUT_MS);
      await expect(hung).rejects.toMatchObject({ code: 'TIMEOUT' });
      let disposed = false;
      const finalized = calls.finalize;
      const disposing = slow[Symbol.asyncDispose]().then(() => (disposed = true));
      await turn();
      expect(disposed).toBe(false);
      vi.advanceTimersByTime(TIMEOUT_MS);
      await disposing;
      expect(disposed).toBe(true);
      // Still signing: the module is left loaded, never finalized under a running C_Sign.
      expect(calls.finalize).toBe(finalized);
      await held.shift()?.(); // the token answers after all; nothing is left waiting for it
    });
  });
});
