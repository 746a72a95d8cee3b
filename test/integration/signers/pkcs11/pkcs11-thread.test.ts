/**
 * The PKCS#11 module runs on a thread of its own. A module call that does not return (a call
 * blocked on a FIFO nobody writes, in the real SoftHSM2 module's thread, as a network HSM's client
 * waiting for an answer) holds that thread, never the event loop: requests and start-up fail at
 * their deadline, naming what was not answered, the breaker opens, and once the call returns the
 * signer signs again. (Called on the event loop, as before, such a call would block this very test.)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { registry } from '../../../../src/metrics/registry.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import {
  startPkcs11Thread,
  type Pkcs11Calls,
} from '../../../../src/signers/pkcs11/pkcs11-thread.js';
import { tempDir } from '../../../helpers/openssl.js';
import { SOFTHSM_MODULE, SoftHsm } from '../../../helpers/softhsm.js';

const HANGING_BINDING = join(import.meta.dirname, '../../../helpers/pkcs11-hanging-binding.cjs');
const TIMEOUT_MS = 60_000;
const hsm = new SoftHsm();
const dir = tempDir();
let now = 0;
let signer: Pkcs11Signer;
/** Every thread the module was loaded on, the latest last. */
const threads: Pkcs11Calls[] = [];

const openSigner = () =>
  createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
    loadModule: async (path) => {
      const thread = await startPkcs11Thread(path, HANGING_BINDING);
      threads.push(thread);
      return thread;
    },
    maxSessions: 2,
    timeoutMs: TIMEOUT_MS,
    breaker: { threshold: 2, cooldownMs: 1_000, now: () => now },
  });

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  // Read by the thread's binding (a thread's environment is a copy made when it starts).
  process.env['PKCS11_HANG_DIR'] = dir.dir;
  signer = await openSigner();
  // Deadlines are timers: faked, so that they fire when the test says, never because the machine
  // is slow.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterAll(async () => {
  vi.useRealTimers();
  delete process.env['PKCS11_HANG_DIR'];
  await signer?.[Symbol.asyncDispose]();
  hsm.cleanup();
  dir.cleanup();
});

/** One turn of the event loop. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function signsAndVerifies(): Promise<void> {
  const data = randomBytes(40);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  expect(verify(digest, data, key, signature)).toBe(true);
}

/** The module's `call` will not return until `answer` (the handle of `hang`) is called. */
function hang(call: string): { blocked: () => Promise<void>; answer: () => void } {
  const fifo = join(dir.dir, call);
  execFileSync('mkfifo', [fifo]);
  let writer: number | undefined;
  return {
    /**
     * Waits (turning the event loop) until the thread blocks on the FIFO: a non-blocking open for
     * writing succeeds only once a reader is there, which then waits in read(2).
     */
    blocked: async () => {
      for (;;) {
        try {
          writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
          await turn(); // no reader yet
        }
      }
    },
    /** The FIFO is removed first, so that later calls do not wait on it. */
    answer: () => {
      unlinkSync(fifo);
      if (writer !== undefined) closeSync(writer);
    },
  };
}

async function sessionsOpen(): Promise<number> {
  const text = await registry.getSingleMetricAsString('timestamp_authority_pkcs11_sessions');
  return Number(/ (\d+)$/m.exec(text)?.[1]);
}

describe('the PKCS#11 thread', () => {
  it('a module call that never returns holds the thread, not the event loop; the deadline answers', async () => {
    await signsAndVerifies();
    const signInit = hang('C_SignInit');
    const first = signer.sign(Buffer.from('first'));
    first.catch(() => {});
    // The thread is blocked in the module; this test, on the event loop, goes on.
    await signInit.blocked();
    // A second signature needs a second session: C_OpenSession waits behind the hung call.
    const second = signer.sign(Buffer.from('second'));
    second.catch(() => {});
    await turn();
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(first).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `pkcs11:token=tsa;object=tsa-key: no signature within ${TIMEOUT_MS} ms`,
    });
    await expect(second).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(signer.unavailableReason()).toMatch(/circuit breaker open after 2 consecutive/);

    // The module answers at last: the calls queued behind it run, and the session opened too late
    // is kept (counted, and idle: the probe after the cool-down opens none).
    signInit.answer();
    while ((await sessionsOpen()) < 2) await turn();
    now += 1_000;
    await signsAndVerifies();
    expect(signer.unavailableReason()).toBeUndefined();
    expect(await sessionsOpen()).toBe(2);
  });

  it('a thread that stopped fails its calls as an unavailable token; the next signature loads the module on a new one', async () => {
    await signsAndVerifies();
    threads.at(-1)?.stop();
    await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
      message: 'pkcs11:token=tsa;object=tsa-key: the PKCS#11 thread stopped (stopped)',
    });
    const before = threads.length;
    await signsAndVerifies();
    expect(threads).toHaveLength(before + 1);
    expect(threads.at(-1)?.stopped).toBe(false);
  });
});

describe('start-up against a module that does not answer', () => {
  it('a C_Login not answered fails start-up at the deadline, naming the call', async () => {
    const login = hang('C_Login');
    const opening = openSigner();
    opening.catch(() => {});
    await login.blocked();
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(opening).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `pkcs11:token=tsa;object=tsa-key: the module did not answer C_Login within ${TIMEOUT_MS} ms`,
    });
    login.answer();
    await signsAndVerifies(); // the module, shared with the signer already open, goes on
  });

  it('a C_Initialize not answered (a network HSM client connects there) fails start-up at the deadline', async () => {
    await signer[Symbol.asyncDispose](); // the module's last user: the next signer loads it again
    const initialize = hang('C_Initialize');
    const opening = openSigner();
    opening.catch(() => {});
    await initialize.blocked();
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(opening).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `${SOFTHSM_MODULE}: the module did not answer C_Initialize within ${TIMEOUT_MS} ms`,
    });
    expect(threads.at(-1)?.stopped).toBe(true);
    initialize.answer();
  });
});

describe('loading the module on its thread', () => {
  it("a module that is not there: MODULE_LOAD, with the loader's reason", async () => {
    await expect(startPkcs11Thread(join(dir.dir, 'missing.so'))).rejects.toMatchObject({
      code: 'MODULE_LOAD',
      message: expect.stringMatching(
        /^cannot load the PKCS#11 module .*missing\.so: .*No such file or directory/,
      ),
    });
  });

  it('a binding that cannot be loaded: MODULE_LOAD, naming what building pkcs11js needs', async () => {
    await expect(
      startPkcs11Thread(SOFTHSM_MODULE, join(dir.dir, 'no-binding.cjs')),
    ).rejects.toMatchObject({
      code: 'MODULE_LOAD',
      message: expect.stringMatching(
        /^the pkcs11js binding is not installed or not built \(it needs build-essential and python3 at npm install\): Cannot find module/,
      ),
    });
  });
});
