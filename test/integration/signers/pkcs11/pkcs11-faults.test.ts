/**
 * Module errors injected into the pkcs11 signer (the real SoftHSM2 module, wrapped): the return
 * values that mean the token or the session is gone open the circuit breaker, and the probe after
 * the cool-down re-initializes the module and signs again; other errors fail one signature only.
 */
import { randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { CKF_OS_LOCKING_OK } from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import { loadPkcs11js, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SoftHsm } from '../../../helpers/softhsm.js';

const hsm = new SoftHsm();
/** Errors the next C_Sign calls fail with, by CKR_ name (pkcs11js puts it in the message). */
const failNext: string[] = [];
const calls = { initialize: [] as unknown[], sign: 0 };

const faultyModule: LoadModule = async (path) => {
  const { lib, api } = await loadPkcs11js(path);
  const overrides: Partial<typeof api> = {
    C_Initialize: (options) => {
      calls.initialize.push(options);
      api.C_Initialize(options);
    },
    C_SignAsync: (session, input, output) => {
      calls.sign++;
      const fault = failNext.shift();
      if (fault) return Promise.reject(new lib.Pkcs11Error(`${fault}:1`, 1, 'C_Sign'));
      return api.C_SignAsync(session, input, output);
    },
  };
  // The binding's methods need the real instance as `this`.
  const wrapped = new Proxy(api, {
    get: (target, name) => {
      const value =
        (overrides as Record<string | symbol, unknown>)[name] ?? Reflect.get(target, name);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { lib, api: wrapped };
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

async function signsAndVerifies(): Promise<void> {
  const data = randomBytes(40);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  expect(verify(digest, data, key, signature)).toBe(true);
}

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
});
