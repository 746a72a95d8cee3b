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
import { SESSION_RETRY_MS } from '../../../../src/signers/pkcs11/pkcs11-connection.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { signerFailureCounts } from '../../../helpers/fault-tsa.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';

const hsm = new SoftHsm();
/** Errors the next signatures fail with, by CKR_ name (pkcs11js puts it in the message). */
const failNext: string[] = [];
const calls = { initialize: [] as unknown[], finalize: 0, sign: 0, findObjects: 0, openSession: 0 };
/** Sessions the token opens before it refuses more (CKR_SESSION_COUNT); undefined: no limit. */
let sessionsLeft: number | undefined;
/** Signatures come back with their last byte flipped (a token that answers wrong). */
let corrupt = false;
/**
 * Signatures held as a token that does not answer would; each resumes (signs) when called, or
 * fails with the CKR_ it is given.
 */
const held: ((fault?: string) => Promise<Buffer>)[] = [];
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
    C_OpenSession: (...args) => {
      calls.openSession++;
      if (sessionsLeft !== undefined) {
        if (sessionsLeft <= 0) return Promise.reject(new Error('CKR_SESSION_COUNT'));
        sessionsLeft--;
      }
      return module.C_OpenSession(...args);
    },
    C_FindObjectsInit: (...args) => {
      calls.findObjects++;
      return module.C_FindObjectsInit(...args);
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
          held.push((fault) => {
            const signing = fault ? Promise.reject(new Error(fault)) : module.sign(...args);
            signing.then(resolve, reject);
            return signing;
          }),
        );
      }
      if (corrupt) {
        return module.sign(...args).then((signature) => {
          signature[signature.length - 1]! ^= 1;
          return signature;
        });
      }
      return module.sign(...args);
    },
  };
  return overridden(module, overrides);
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
  try {
    await signer?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
  }
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

  it('passes its answer to accept: a signature refused there feeds the breaker, and the key is found again', async () => {
    await signsAndVerifies();
    const failuresBefore = await signerFailureCounts();
    const initialize = calls.initialize.length;
    const findObjects = calls.findObjects;
    const data = randomBytes(20);
    let seen: Uint8Array | undefined;
    corrupt = true;
    try {
      await expect(
        signer.sign(data, undefined, (signature) => {
          seen = signature;
          const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
          if (!verify(digest, data, key, signature)) throw new Error('does not verify');
        }),
      ).rejects.toThrow('does not verify');
    } finally {
      corrupt = false;
    }
    expect(seen).toBeDefined();
    expect(signer.unavailableReason()).toMatch(/circuit breaker open after 1 consecutive/);
    const failures = await signerFailureCounts();
    expect(failures['other']).toBe((failuresBefore['other'] ?? 0) + 1);
    // The probe finds the key again (and checks it is the certified one), without re-initializing
    // the module: the token answered.
    now += 1_000;
    await signsAndVerifies();
    expect(calls.findObjects).toBeGreaterThan(findObjects);
    expect(calls.initialize.length).toBe(initialize);
    // An accept that takes the signature: answered.
    const accepted = randomBytes(20);
    await signer.sign(accepted, undefined, () => {});
    expect(signer.unavailableReason()).toBeUndefined();
  });

  it('a token error after a refused signature dropped the connection still re-initializes the module', async () => {
    await signsAndVerifies();
    const finalizations = calls.finalize;
    const initializations = calls.initialize.length;
    // Two signatures in flight on one connection, the first held in the token.
    holdNext = 1;
    const failing = signer.sign(randomBytes(20));
    failing.catch(() => {});
    while (held.length === 0) await turn();
    // The second's signature is refused by the self-check: the connection is dropped, for the key
    // to be found again (without re-initializing: the token answered).
    await expect(
      signer.sign(randomBytes(20), undefined, () => {
        throw new Error('does not verify');
      }),
    ).rejects.toThrow('does not verify');
    // Then the first fails as a token gone does: the module is re-initialized all the same.
    await held
      .shift()?.('CKR_DEVICE_ERROR')
      .catch(() => {});
    await expect(failing).rejects.toMatchObject({ code: 'TOKEN_UNAVAILABLE' });
    now += 1_000;
    await signsAndVerifies();
    expect(calls.finalize).toBe(finalizations + 1);
    expect(calls.initialize.length).toBe(initializations + 1);
  });

  it('a token out of sessions (CKR_SESSION_COUNT): signatures wait for the sessions the signer has, with one warning, and the breaker is not fed; the pool grows again once the token gives sessions', async () => {
    const warnings: string[] = [];
    const crowded = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: faultyModule,
      maxSessions: 8,
      breaker: { threshold: 1, cooldownMs: 1_000, now: () => now },
      warn: (message) => warnings.push(message),
      now: () => now,
    });
    const failuresBefore = await signerFailureCounts();
    sessionsLeft = 0; // the partition's limit, reached by other applications: it has its one
    try {
      const signing = async () => {
        const data = randomBytes(20);
        const signature = await crowded.sign(data);
        const [digest, key] = nodeSignatureArguments(crowded.algorithm, crowded.publicKey);
        return verify(digest, data, key, signature);
      };
      const results = await Promise.allSettled(Array.from({ length: 16 }, signing));
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      expect(results.map((result) => (result as PromiseFulfilledResult<boolean>).value)).toEqual(
        Array(16).fill(true),
      );
      expect(crowded.unavailableReason()).toBeUndefined();
      expect(warnings).toEqual([
        'pkcs11:token=tsa;object=tsa-key: the token refused another session (CKR_SESSION_COUNT: its limit, shared by every worker and application, is reached); signatures share the 1 session this signer has (--pkcs11-max-sessions 8), asking for another at most every 30 s',
      ]);
      // The pool keeps to its session: no more C_OpenSession, and no failure counted.
      const opened = calls.openSession;
      expect(
        (await Promise.allSettled(Array.from({ length: 16 }, signing))).map((r) => r.status),
      ).toEqual(Array(16).fill('fulfilled'));
      expect(calls.openSession).toBe(opened);
      expect(warnings).toHaveLength(1);
      expect(await signerFailureCounts()).toEqual(failuresBefore);

      // Still out of sessions when the signer asks again: one C_OpenSession, no second warning.
      now += SESSION_RETRY_MS;
      await Promise.all(Array.from({ length: 16 }, signing));
      expect(calls.openSession).toBe(opened + 1);
      expect(warnings).toHaveLength(1);
      // The other applications closed theirs: before the pause ends, the pool keeps to its one;
      // after it, the next signatures that find none idle open more, up to --pkcs11-max-sessions.
      sessionsLeft = undefined;
      await Promise.all(Array.from({ length: 16 }, signing));
      expect(calls.openSession).toBe(opened + 1);
      now += SESSION_RETRY_MS;
      await Promise.all(Array.from({ length: 16 }, signing));
      expect(calls.openSession).toBeGreaterThan(opened + 1);
      expect(calls.openSession).toBeLessThanOrEqual(opened + 1 + 7);
      expect(warnings).toHaveLength(1);
      expect(await signerFailureCounts()).toEqual(failuresBefore);
    } finally {
      sessionsLeft = undefined;
      await crowded[Symbol.asyncDispose]();
    }
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
        // The signer's clock is its breaker's too.
        breaker: { threshold: 2, cooldownMs: 60_000 },
        now: () => now,
      });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    });
    afterAll(() => vi.useRealTimers());

    it('fails each signature at the deadline, holds the session until the token answers, and opens the breaker when the token signs nothing, those that waited for its session included', async () => {
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
      expect(slow.unavailableReason()).toBeUndefined();
      // Its one session is still the token's: the next signature waits for it, not for the token.
      // The token signed nothing for the whole deadline: not busy, not answering (under steady
      // load every signature waits for a session, so a wait alone cannot excuse a timeout).
      const signs = calls.sign;
      const second = slow.sign(Buffer.from('x'));
      second.catch(() => {});
      await turn();
      vi.advanceTimersByTime(TIMEOUT_MS);
      await expect(second).rejects.toMatchObject({
        code: 'TIMEOUT',
        message: `pkcs11:token=tsa;object=tsa-key: no session free for a signature within ${TIMEOUT_MS} ms (--pkcs11-max-sessions signatures in flight)`,
      });
      expect(calls.sign).toBe(signs);
      expect(slow.unavailableReason()).toMatch(/circuit breaker open after 2 consecutive/);
      const failures = await signerFailureCounts();
      expect(failures['timeout']).toBe((failuresBefore['timeout'] ?? 0) + 2);
      expect(failures['saturated'] ?? 0).toBe(failuresBefore['saturated'] ?? 0);
      // The token answers at last (the session comes back); after the cool-down the probe signs.
      await held.shift()?.();
      await turn();
      now += 60_000;
      await signsAndVerifies(slow);
      expect(calls.sign).toBe(signs + 1);
      expect(slow.unavailableReason()).toBeUndefined();
    });

    it('a busy but healthy HSM does not open the breaker: signatures that time out after waiting for a session while the token signs others are abandoned (saturated)', async () => {
      const failuresBefore = await signerFailureCounts();
      holdNext = 8;
      const signing = Array.from({ length: 8 }, () => slow.sign(randomBytes(20)));
      for (const each of signing) each.catch(() => {});
      // One session: each signature takes a tenth of the deadline, one after another.
      for (let i = 0; i < 4; i++) {
        while (held.length === 0) await turn();
        vi.advanceTimersByTime(TIMEOUT_MS / 10);
        await held.shift()?.();
      }
      while (held.length === 0) await turn(); // the fifth is in the token at the deadline
      vi.advanceTimersByTime(TIMEOUT_MS);
      const results = await Promise.allSettled(signing);
      expect(results.map((result) => result.status)).toEqual([
        ...Array(4).fill('fulfilled'),
        ...Array(4).fill('rejected'),
      ]);
      for (const result of results.slice(4)) {
        expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'TIMEOUT' });
      }
      expect(slow.unavailableReason()).toBeUndefined();
      const failures = await signerFailureCounts();
      expect(failures['saturated']).toBe((failuresBefore['saturated'] ?? 0) + 4);
      expect(failures['timeout']).toBe(failuresBefore['timeout'] ?? 0);
      holdNext = 0;
      await held.shift()?.();
      await turn();
      await signsAndVerifies(slow);
    });

    it('a client that goes away leaves the queue for a session: abandoned, and the token is not asked', async () => {
      const failuresBefore = await signerFailureCounts();
      holdNext = 1;
      const first = slow.sign(randomBytes(20));
      while (held.length === 0) await turn();
      const signs = calls.sign;
      const client = new AbortController();
      const second = slow.sign(randomBytes(20), client.signal);
      second.catch(() => {});
      await turn();
      client.abort(new Error('the client went away'));
      await expect(second).rejects.toThrow('the client went away');
      const failures = await signerFailureCounts();
      expect(failures['aborted']).toBe((failuresBefore['aborted'] ?? 0) + 1);
      // The first answers; the next signature gets the session the second left (none was lost).
      await held.shift()?.();
      await first;
      await signsAndVerifies(slow);
      expect(calls.sign).toBe(signs + 1);
      expect(slow.unavailableReason()).toBeUndefined();
      // A client already gone: refused before the breaker or the token sees it.
      await expect(slow.sign(randomBytes(20), client.signal)).rejects.toThrow(
        'the client went away',
      );
      expect(calls.sign).toBe(signs + 1);
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
