/**
 * Nothing the signer waits for holds a session slot past a deadline, on the real SoftHSM2: a PIN
 * file that is not a regular file (a FIFO nobody writes, a device) or is too large is refused at
 * once, at start-up as at a reconnection, never waited for; a reconnection waits for the PIN gate
 * within a deadline, a signature for the reconnection and for a new session within its own, and a
 * reconnection stuck as a whole is given up, so the next signature tries again instead of every
 * one failing "no session free".
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { closeSync, constants, openSync, renameSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { localPinGate, type PinGate } from '../../../../src/signers/pkcs11/pin-gate.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import { MAX_PIN_FILE_BYTES } from '../../../../src/signers/pkcs11/pkcs11-pin.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
  type Pkcs11SignerOptions,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';

const hsm = new SoftHsm();
/** Every process the module was loaded in, the latest last. */
const hosts: Pkcs11Calls[] = [];
/** While set, C_OpenSession calls wait here until the test lets each through (a slow HSM). */
let holdOpens = false;
const heldOpens: (() => void)[] = [];
/** The error the next C_Sign fails with, by CKR_ name (pkcs11js puts it in the message). */
let failNextSign: string | undefined;
/** C_Finalize calls, every process's: a re-initialization of the module. */
let finalizes = 0;
/** Sessions the token opened and the signer has not closed (hex handles; a test clears it). */
const liveSessions = new Set<string>();
/** C_OpenSession calls not answered yet. */
let opening = 0;
/** While set, C_Initialize calls wait here until the test lets them through. */
let holdInitialize = false;
const heldInitialize: (() => void)[] = [];
/** C_GetSlotList calls, every process's: the first call of a connection. */
let slotLists = 0;
const recordingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  hosts.push(host);
  const overrides: Partial<Pkcs11Calls> = {
    C_OpenSession: async (...args) => {
      opening++;
      try {
        if (holdOpens) await new Promise<void>((resolve) => heldOpens.push(resolve));
        const session = await host.C_OpenSession(...args);
        liveSessions.add(session.toString('hex'));
        return session;
      } finally {
        opening--;
      }
    },
    C_CloseSession: (session) => {
      liveSessions.delete(session.toString('hex'));
      return host.C_CloseSession(session);
    },
    C_Finalize: () => {
      finalizes++;
      return host.C_Finalize();
    },
    C_Initialize: async (...args) => {
      if (holdInitialize) await new Promise<void>((resolve) => heldInitialize.push(resolve));
      return host.C_Initialize(...args);
    },
    C_GetSlotList: (...args) => {
      slotLists++;
      return host.C_GetSlotList(...args);
    },
    sign: (...args) => {
      const fault = failNextSign;
      failNextSign = undefined;
      return fault ? Promise.reject(new Error(fault)) : host.sign(...args);
    },
  };
  return overridden(host, overrides);
};
/** FIFOs made by a test: a reader still blocked on one (without the fix) is let go after it. */
const fifos: string[] = [];

const turn = () => new Promise((resolve) => setImmediate(resolve));

function fifo(name: string): string {
  const path = hsm.dir.path(name);
  execFileSync('mkfifo', [path]);
  fifos.push(path);
  return path;
}

const uriWithPin = (path: string) =>
  `pkcs11:token=tsa;object=tsa-key?module-path=${SOFTHSM_MODULE}&pin-source=file:${path}`;

async function signs(signer: Pkcs11Signer): Promise<boolean> {
  const data = randomBytes(20);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  return verify(digest, data, key, signature);
}

/** Kills the module's process, as an out-of-memory kill would: the next signature reconnects. */
async function killModuleProcess(): Promise<void> {
  const host = hosts.at(-1)!;
  process.kill(host.pid, 'SIGKILL');
  while (!host.stopped) await turn();
}

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
});
afterEach(() => {
  vi.useRealTimers();
  for (const path of fifos.splice(0)) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting
    }
  }
});
afterAll(() => hsm.cleanup());

describe('a PIN file that is not one', () => {
  it.each([
    ['a FIFO nobody writes', () => fifo('pin-fifo'), /not a regular file/],
    ['a device', () => '/dev/zero', /not a regular file/],
    ['a directory', () => hsm.dir.path('tokens'), /not a regular file/],
    [
      'a file too large',
      () => {
        const path = hsm.dir.path('pin-large');
        writeFileSync(path, Buffer.alloc(MAX_PIN_FILE_BYTES + 1, 0x31));
        return path;
      },
      new RegExp(`larger than ${MAX_PIN_FILE_BYTES} bytes, not a PIN file`),
    ],
  ])('%s stops start-up at once, naming the file', async (_, make, why) => {
    const path = make();
    const opening = createPkcs11Signer(uriWithPin(path), 'auto', { timeoutMs: 200 });
    await expect(opening).rejects.toMatchObject({ code: 'PIN_SOURCE' });
    await expect(opening).rejects.toThrow(
      `pkcs11:token=tsa;object=tsa-key: cannot read the PIN file ${path}: `,
    );
    await expect(opening).rejects.toThrow(why);
  });

  it('replacing the PIN file at a reconnection fails signatures, not the signer: once the file is back, it signs', async () => {
    const pinPath = hsm.dir.path('pin-replaced');
    writeFileSync(pinPath, `${TEST_PIN}\n`, { mode: 0o600 });
    const signer = await createPkcs11Signer(uriWithPin(pinPath), 'auto', {
      loadModule: recordingModule,
      maxSessions: 2,
      timeoutMs: 60_000,
    });
    try {
      expect(await signs(signer)).toBe(true);
      // The PIN "file" becomes a FIFO nobody writes (a secret injector's pipe), then the module's
      // process dies: the next signatures reconnect and read the PIN again.
      renameSync(fifo('pin-replaced.fifo'), pinPath);
      await killModuleProcess();
      for (let i = 0; i < 4; i++) {
        await expect(signer.sign(randomBytes(20))).rejects.toMatchObject({
          code: 'PIN_SOURCE',
          message: expect.stringContaining('not a regular file') as unknown,
        });
      }
      // The operator puts a regular file back.
      writeFileSync(`${pinPath}.new`, `${TEST_PIN}\n`, { mode: 0o600 });
      renameSync(`${pinPath}.new`, pinPath);
      expect(await signs(signer)).toBe(true);
    } finally {
      await signer[Symbol.asyncDispose]();
    }
  });
});

describe('a reconnection that waits', () => {
  const T = 60_000;
  /** While set, the gate's admissions wait here until the test lets them through. */
  let holdAdmits = false;
  const heldAdmits: (() => void)[] = [];
  let admissions = 0;
  /** Fake time that passes while the gate is asked (a cluster's primary far away). */
  let gateTakesMs = 0;

  function slowGate(): PinGate {
    const shared = localPinGate();
    return {
      key: shared.key,
      admit: (scope, digest) => {
        admissions++;
        if (gateTakesMs > 0) vi.advanceTimersByTime(gateTakesMs);
        if (!holdAdmits) return shared.admit(scope, digest);
        return new Promise((resolve) => {
          heldAdmits.push(() => resolve(shared.admit(scope, digest)));
        });
      },
      settle: (ticket, answer) => shared.settle(ticket, answer),
    };
  }

  async function openSigner(options: Pkcs11SignerOptions): Promise<Pkcs11Signer> {
    holdAdmits = false;
    gateTakesMs = 0;
    admissions = 0;
    const signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: recordingModule,
      maxSessions: 1,
      timeoutMs: T,
      pinGate: slowGate(),
      ...options,
    });
    await killModuleProcess();
    // Deadlines are timers: faked, so that they fire when the test says.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    holdAdmits = true;
    admissions = 0;
    return signer;
  }

  async function release(signer: Pkcs11Signer): Promise<void> {
    vi.useRealTimers();
    holdAdmits = false;
    gateTakesMs = 0;
    for (const admit of heldAdmits.splice(0)) admit();
    await signer[Symbol.asyncDispose]();
  }

  it('a signature waits for it within its own deadline: its session slot is free at that deadline, and a gate that does not answer fails the reconnection at its', async () => {
    const signer = await openSigner({});
    try {
      gateTakesMs = T / 2; // the gate's deadline ends half a deadline after the signature's
      const first = signer.sign(randomBytes(20));
      first.catch(() => {});
      while (admissions < 1) await turn();
      await vi.advanceTimersByTimeAsync(T / 2);
      await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' });
      // The reconnection goes on; the next signature has the slot (--pkcs11-max-sessions 1) and
      // waits for it, not for the slot.
      const second = signer.sign(randomBytes(20));
      second.catch(() => {});
      await vi.advanceTimersByTimeAsync(T / 2); // the gate's deadline
      await turn();
      await vi.advanceTimersByTimeAsync(T / 2); // the second signature's
      await expect(second).rejects.toThrow(
        'pkcs11:token=tsa;object=tsa-key: the PIN gate did not admit the login within 60000 ms',
      );
      expect(admissions).toBe(1);
      // The gate answers at last: the offer it admits late is given back unanswered (or every
      // later login would wait for it), and the next signature reconnects and signs.
      gateTakesMs = 0;
      holdAdmits = false;
      for (const admit of heldAdmits.splice(0)) admit();
      expect(await signs(signer)).toBe(true);
      expect(admissions).toBe(2);
    } finally {
      await release(signer);
    }
  });

  it('a gate that does not admit the login in time re-initializes nothing and feeds no breaker: the token was not asked', async () => {
    gateTakesMs = 0;
    holdAdmits = false;
    const signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: recordingModule,
      maxSessions: 2,
      timeoutMs: T,
      pinGate: slowGate(),
      breaker: { threshold: 10, cooldownMs: T },
    });
    try {
      expect(await signs(signer)).toBe(true);
      // A signature the self-check refuses: the connection is dropped, the module is not
      // re-initialized (the token answered), and the breaker counts it.
      const refused = new Error('refused by the self-check');
      await expect(
        signer.sign(randomBytes(20), undefined, () => {
          throw refused;
        }),
      ).rejects.toBe(refused);
      expect(signer.breaker.consecutiveFailures).toBe(1);
      const hostsBefore = hosts.length;
      finalizes = 0;
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      holdAdmits = true;
      admissions = 0;
      gateTakesMs = T / 2; // the gate's deadline ends half a deadline after the first signature's
      // The next signature reconnects, and its deadline passes while the gate holds the login.
      const first = signer.sign(randomBytes(20));
      first.catch(() => {});
      while (admissions < 1) await turn();
      await vi.advanceTimersByTimeAsync(T / 2);
      await expect(first).rejects.toThrow(
        'pkcs11:token=tsa;object=tsa-key: no signature within 60000 ms (its reconnection waits for the PIN gate to admit the login)',
      );
      // One that waits for the same reconnection gets the gate's refusal at its deadline.
      const second = signer.sign(randomBytes(20));
      second.catch(() => {});
      await vi.advanceTimersByTimeAsync(T / 2);
      await expect(second).rejects.toThrow(
        'pkcs11:token=tsa;object=tsa-key: the PIN gate did not admit the login within 60000 ms',
      );
      // Neither was the token's failure.
      expect(signer.breaker.consecutiveFailures).toBe(1);
      vi.useRealTimers();
      gateTakesMs = 0;
      holdAdmits = false;
      for (const admit of heldAdmits.splice(0)) admit();
      // The next reconnection finds the key again in the same module: no C_Finalize, which would
      // end the sessions of every other key on the module too.
      expect(await signs(signer)).toBe(true);
      expect(finalizes).toBe(0);
      expect(hosts.length).toBe(hostsBefore);
      expect(admissions).toBe(2);
    } finally {
      await release(signer);
    }
  });

  it('one stuck as a whole is given up at its deadline: the next signature starts another, and signs', async () => {
    const signer = await openSigner({ reconnectTimeoutMs: 1_000 });
    try {
      const first = signer.sign(randomBytes(20));
      first.catch(() => {});
      while (admissions < 1) await turn();
      await vi.advanceTimersByTimeAsync(1_000);
      await turn();
      await vi.advanceTimersByTimeAsync(T); // the signature's deadline, and the gate's
      await expect(first).rejects.toThrow(
        'pkcs11:token=tsa;object=tsa-key: no reconnection within 1000 ms',
      );
      holdAdmits = false;
      for (const admit of heldAdmits.splice(0)) admit();
      expect(await signs(signer)).toBe(true);
      expect(admissions).toBe(2);
    } finally {
      await release(signer);
    }
  });

  it('one given up while the module is re-initialized asks the module nothing once that is done', async () => {
    const signer = await openSigner({ reconnectTimeoutMs: 1_000 });
    try {
      holdAdmits = false;
      holdInitialize = true;
      // The module's process is started again; its C_Initialize does not answer in time.
      const first = signer.sign(randomBytes(20));
      first.catch(() => {});
      while (heldInitialize.length < 1) await turn();
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(first).rejects.toThrow(
        'pkcs11:token=tsa;object=tsa-key: no reconnection within 1000 ms',
      );
      vi.useRealTimers();
      slotLists = 0;
      holdInitialize = false;
      for (const initialize of heldInitialize.splice(0)) initialize();
      // The reconnection given up was waiting for that C_Initialize: it makes no connection (no
      // C_GetSlotList, no C_OpenSession); the next signature's reconnection does, and signs.
      expect(await signs(signer)).toBe(true);
      expect(slotLists).toBe(1);
    } finally {
      holdInitialize = false;
      for (const initialize of heldInitialize.splice(0)) initialize();
      await release(signer);
    }
  });
});

describe('a C_OpenSession that does not return', () => {
  it('holds no session slot past a deadline, whether it replaces a failed session or opens one for a signature; the sessions it opens late are kept up to --pkcs11-max-sessions, the others closed', async () => {
    const T = 60_000;
    liveSessions.clear();
    const signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: recordingModule,
      maxSessions: 1,
      timeoutMs: T,
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      holdOpens = true;
      // The token refuses a signature: its session is replaced (a new one opened first), and
      // that C_OpenSession does not return. The replacement has a deadline of its own.
      failNextSign = 'CKR_FUNCTION_FAILED';
      const first = signer.sign(randomBytes(20));
      first.catch(() => {});
      while (heldOpens.length < 1) await turn();
      await vi.advanceTimersByTimeAsync(T);
      await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' });
      // No session left: the next signature opens one, which does not return either; it waits
      // within its own deadline, with the slot (--pkcs11-max-sessions 1), never for the slot.
      const second = signer.sign(randomBytes(20));
      second.catch(() => {});
      while (heldOpens.length < 2) await turn();
      await vi.advanceTimersByTimeAsync(T);
      await expect(second).rejects.toThrow('no signature within 60000 ms');
      const third = signer.sign(randomBytes(20));
      third.catch(() => {});
      while (heldOpens.length < 3) await turn();
      await vi.advanceTimersByTimeAsync(T);
      await expect(third).rejects.toThrow('no signature within 60000 ms');
      // The token answers at last: the replacement goes to the pool (the failed session is
      // closed), the two sessions opened late are closed (the pool has its one session), and
      // signatures sign.
      holdOpens = false;
      for (const open of heldOpens.splice(0)) open();
      while (opening > 0) await turn();
      await turn();
      expect(liveSessions.size).toBe(1);
      expect(await signs(signer)).toBe(true);
      expect(await signs(signer)).toBe(true);
      expect(liveSessions.size).toBe(1);
    } finally {
      vi.useRealTimers();
      holdOpens = false;
      for (const open of heldOpens.splice(0)) open();
      await signer[Symbol.asyncDispose]();
    }
    // Every session opened was pooled or closed: dispose closed the pool's.
    expect(liveSessions).toEqual(new Set());
  });
});
