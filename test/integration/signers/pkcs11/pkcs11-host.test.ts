/**
 * The PKCS#11 module runs in a process of its own. A module call that does not return (a call
 * blocked on a FIFO nobody writes, in the real SoftHSM2 module's process, as a network HSM's
 * client waiting for an answer) holds that process, never the event loop: requests and start-up
 * fail at their deadline, naming what was not answered, the breaker opens, and once the call
 * returns the signer signs again; a call that never returns gets the process killed, and the next
 * signature starts a new one. (Called on the event loop, as once, such a call would block this
 * very test.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import {
  closeSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { registry } from '../../../../src/metrics/registry.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import {
  CKA,
  CKF_OS_LOCKING_OK,
  CKF_SERIAL_SESSION,
  CKM,
  CKO_PRIVATE_KEY,
  CKU_USER,
} from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import {
  startPkcs11Host,
  type HostOptions,
  type Pkcs11Calls,
} from '../../../../src/signers/pkcs11/pkcs11-host.js';
import { tempDir } from '../../../helpers/openssl.js';
import { childEnvironment, kill, reapChild } from '../../../helpers/process.js';
import { TSX_LOADER } from '../../../helpers/spawn-server.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';

const HANGING_BINDING = join(import.meta.dirname, '../../../helpers/pkcs11-hanging-binding.cjs');
const EXIT_WHILE_HUNG = join(import.meta.dirname, '../../../helpers/pkcs11-exit-while-hung.ts');
const TIMEOUT_MS = 60_000;
const hsm = new SoftHsm();
const dir = tempDir();
const now = 0;
let signer: Pkcs11Signer;
/** Every process the module was loaded in, the latest last. */
const hosts: Pkcs11Calls[] = [];
const warnings: string[] = [];

const openSigner = () =>
  createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
    loadModule: async (path, settings) => {
      const host = await startPkcs11Host(path, { binding: HANGING_BINDING, ...settings });
      hosts.push(host);
      return host;
    },
    maxSessions: 2,
    timeoutMs: TIMEOUT_MS,
    warn: (message) => warnings.push(message),
    breaker: { threshold: 2, cooldownMs: 1_000, now: () => now },
  });

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  // Read by the host's binding (a process's environment is a copy made when it starts).
  process.env['PKCS11_HANG_DIR'] = dir.dir;
  signer = await openSigner();
  // Deadlines are timers: faked, so that they fire when the test says, never because the machine
  // is slow.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterAll(async () => {
  vi.useRealTimers();
  delete process.env['PKCS11_HANG_DIR'];
  try {
    await signer?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
    dir.cleanup();
  }
});

/** setTimeout before the tests fake it: for waiting on another process, never as a deadline. */
const realSetTimeout = setTimeout;

/** One turn of the event loop. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function signsAndVerifies(): Promise<void> {
  const data = randomBytes(40);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  expect(verify(digest, data, key, signature)).toBe(true);
}

/**
 * The module's `call` will not return until `answer` (the handle of `hang`) is called; `folder` is
 * the PKCS11_HANG_DIR of the process that makes the call.
 */
function hang(
  call: string,
  folder = dir.dir,
): { blocked: () => Promise<void>; spare: () => void; answer: () => void } {
  const fifo = join(folder, call);
  execFileSync('mkfifo', [fifo]);
  let writer: number | undefined;
  return {
    /**
     * Waits (turning the event loop) until the host blocks on the FIFO: a non-blocking open for
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
    /** Removes the FIFO: later calls go on, the blocked one stays blocked. */
    spare: () => rmSync(fifo, { force: true }),
    /** The FIFO is removed first, so that later calls do not wait on it. */
    answer: () => {
      rmSync(fifo, { force: true });
      if (writer !== undefined) closeSync(writer);
    },
  };
}

async function sessionsOpen(): Promise<number> {
  const text = await registry.getSingleMetricAsString('timestamp_authority_pkcs11_sessions');
  return Number(/ (\d+)$/m.exec(text)?.[1]);
}

async function sessionsOpened(): Promise<number> {
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_pkcs11_sessions_opened_total',
  );
  return Number(/ (\d+)$/m.exec(text)?.[1]);
}

async function hostStops(reason: 'stuck' | 'died'): Promise<number> {
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_pkcs11_module_process_stops_total',
  );
  return Number(new RegExp(`reason="${reason}"} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** Whether the process `pid` is gone (or a zombie nobody has reaped yet). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

describe("the PKCS#11 module's process", () => {
  it('a C_SignInit that does not return holds its own thread: another session signs meanwhile, the request fails at the deadline, and the session is kept once it returns', async () => {
    await signsAndVerifies();
    const signInit = hang('C_SignInit');
    const first = signer.sign(Buffer.from('first'));
    first.catch(() => {});
    // The module is blocked in this call; this test, on the event loop, goes on.
    await signInit.blocked();
    signInit.spare();
    // C_SignInit and C_Sign run on a thread per signature: the other session signs now, not
    // after the first (a network HSM's round trips, one at a time, would cap the signatures).
    await signsAndVerifies();
    const opened = await sessionsOpened();
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(first).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `pkcs11:token=tsa;object=tsa-key: no signature within ${TIMEOUT_MS} ms`,
    });

    // The module answers at last, and the session goes back to the pool: two signatures at once
    // (two sessions at most: one waits for the first's) open none.
    signInit.answer();
    await Promise.all([signsAndVerifies(), signsAndVerifies()]);
    expect(await sessionsOpened()).toBe(opened);
    expect(signer.unavailableReason()).toBeUndefined();
  });

  it('a call still unanswered at twice the deadline: the module is stuck, its process is killed, and the next signature starts a new one', async () => {
    await signsAndVerifies();
    const stuck = hosts.at(-1)!;
    const signInit = hang('C_SignInit');
    const first = signer.sign(Buffer.from('first'));
    first.catch(() => {});
    await signInit.blocked();
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(stuck.stopped).toBe(false); // late, maybe not stuck: the sessions and login are kept
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect(stuck.stopped).toBe(true);
    do await turn();
    while (!gone(stuck.pid));
    signInit.answer();

    // The signature still waiting there failed as if the token were gone (its request had already
    // failed at the deadline): the next signature starts the module again, and signs.
    await signsAndVerifies();
    expect(hosts.at(-1)).not.toBe(stuck);
    expect(await hostStops('stuck')).toBe(1);
    expect(warnings).toEqual([
      `PKCS#11 module ${SOFTHSM_MODULE}: its process stopped (C_SignInit/C_Sign not answered within ${2 * TIMEOUT_MS} ms: the module is stuck); the next signature admitted starts it again`,
    ]);
  });

  it('a C_OpenSession that does not return holds the module process: its request fails at the deadline, and the session it opens late is kept', async () => {
    // After the module was started again (above), one session is open.
    expect(await sessionsOpen()).toBe(1);
    const openSession = hang('C_OpenSession');
    const first = signer.sign(Buffer.from('first')); // takes the open session
    const second = signer.sign(Buffer.from('second')); // opens another
    second.catch(() => {});
    await openSession.blocked();
    await first;
    vi.advanceTimersByTime(TIMEOUT_MS);
    await expect(second).rejects.toMatchObject({ code: 'TIMEOUT' });
    openSession.answer();
    while ((await sessionsOpen()) < 2) await turn();
    const opened = await sessionsOpened();
    await Promise.all([signsAndVerifies(), signsAndVerifies()]);
    expect(await sessionsOpened()).toBe(opened);
  });

  it('a module process that died while idle (a crash in the vendor library) is replaced by the next signature, which signs', async () => {
    await signsAndVerifies();
    const crashed = hosts.at(-1)!;
    process.kill(crashed.pid, 'SIGSEGV');
    while (!crashed.stopped) await turn();
    await signsAndVerifies();
    expect(signer.unavailableReason()).toBeUndefined();
    expect(hosts.at(-1)).not.toBe(crashed);
    expect(await hostStops('died')).toBe(1);
    expect(warnings.at(-1)).toBe(
      `PKCS#11 module ${SOFTHSM_MODULE}: its process stopped (killed by SIGSEGV); the next signature admitted starts it again`,
    );
  });
});

describe('exit with a module call that never returns', () => {
  /** A process whose module's C_Initialize hangs, and its module process's ID. */
  async function hungProcess() {
    const hangDir = tempDir();
    const initialize = hang('C_Initialize', hangDir.dir);
    // SOFTHSM2_CONF is this file's token's (SoftHsm set it in this process's environment).
    const child = spawn(process.execPath, ['--import', TSX_LOADER, EXIT_WHILE_HUNG], {
      env: childEnvironment({ PKCS11_HANG_DIR: hangDir.dir }),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    reapChild(child);
    const exited = once(child, 'exit');
    // Killed (and the folder removed) first, whatever fails.
    const cleanup = async () => {
      await kill(child);
      initialize.answer();
      hangDir.cleanup();
    };
    try {
      const [pidLine] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      await initialize.blocked();
      return { child, exited, hostPid: Number(pidLine), cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  }

  it("the process exits all the same, and its module's process is killed with it", async () => {
    const { child, exited, hostPid, cleanup } = await hungProcess();
    try {
      child.stdin.end();
      expect(await exited).toEqual([0, null]);
      while (!gone(hostPid)) await turn();
    } finally {
      await cleanup();
    }
  });

  it("a process killed (SIGKILL) cannot kill its module's process: that one ends itself", async () => {
    const { child, exited, hostPid, cleanup } = await hungProcess();
    try {
      child.kill('SIGKILL');
      expect(await exited).toEqual([null, 'SIGKILL']);
      // Its channel closed: it kills itself, the module call notwithstanding (its main thread
      // never calls the module, so it always sees that).
      while (!gone(hostPid)) await new Promise((resolve) => realSetTimeout(resolve, 50));
    } finally {
      await cleanup();
    }
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
    expect(hosts.at(-1)?.stopped).toBe(true);
    while (!gone(hosts.at(-1)!.pid)) await turn();
    initialize.answer();
  });
});

describe('loading the module in its process', () => {
  it("a module that is not there: MODULE_LOAD, with the loader's reason", async () => {
    await expect(
      startPkcs11Host(join(dir.dir, 'missing.so'), { stuckAfterMs: TIMEOUT_MS }),
    ).rejects.toMatchObject({
      code: 'MODULE_LOAD',
      message: expect.stringMatching(
        /^cannot load the PKCS#11 module .*missing\.so: .*No such file or directory/,
      ),
    });
  });

  it('a binding that cannot be loaded: MODULE_LOAD, naming what building pkcs11js needs', async () => {
    await expect(
      startPkcs11Host(SOFTHSM_MODULE, {
        binding: join(dir.dir, 'no-binding.cjs'),
        stuckAfterMs: TIMEOUT_MS,
      }),
    ).rejects.toMatchObject({
      code: 'MODULE_LOAD',
      message: expect.stringMatching(
        /^the pkcs11js binding is not installed or not built \(it needs build-essential and python3 at npm install\): Cannot find module/,
      ),
    });
  });
});

/** A host of the module through the hanging binding, initialized and logged in, and its key. */
async function loggedInHost(options: Partial<HostOptions> = {}) {
  const host = await startPkcs11Host(SOFTHSM_MODULE, {
    binding: HANGING_BINDING,
    stuckAfterMs: TIMEOUT_MS,
    ...options,
  });
  await host.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  let slot: Buffer | undefined;
  for (const each of await host.C_GetSlotList(true)) {
    if ((await host.C_GetTokenInfo(each)).label.trimEnd() === 'tsa') slot = each;
  }
  const openSession = () => host.C_OpenSession(slot!, CKF_SERIAL_SESSION);
  const session = await openSession();
  await host.C_Login(session, CKU_USER, TEST_PIN);
  await host.C_FindObjectsInit(session, [{ type: CKA.CLASS, value: CKO_PRIVATE_KEY }]);
  const [key] = await host.C_FindObjects(session, 1);
  await host.C_FindObjectsFinal(session);
  const sign = (on = session) => host.sign(on, { mechanism: CKM.ECDSA }, key!, randomBytes(32), 64);
  return { host, openSession, sign };
}

/** The threads of process `pid`. */
const threads = (pid: number): number => readdirSync(`/proc/${pid}/task`).length;

/** Waits on real time (the tests fake setTimeout): for another process, never as a deadline. */
const pause = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

describe("the module process's threads and limits", () => {
  it('a module whose loading does not return is stuck: its process is killed at that deadline', async () => {
    const load = hang('load');
    const starting = startPkcs11Host(SOFTHSM_MODULE, {
      binding: HANGING_BINDING,
      stuckAfterMs: TIMEOUT_MS,
    });
    let settled = false;
    starting.catch(() => {}).finally(() => (settled = true));
    await load.blocked();
    // The deadline runs from the host's `booted` (Node and pkcs11js up), which may still be on its
    // way: one deadline at a time until it has come and passed.
    while (!settled) {
      vi.advanceTimersByTime(TIMEOUT_MS);
      await pause(10);
    }
    await expect(starting).rejects.toMatchObject({
      code: 'MODULE_LOAD',
      message: `cannot load the PKCS#11 module ${SOFTHSM_MODULE}: not loaded within ${TIMEOUT_MS} ms: the module is stuck`,
    });
    load.answer();
  });

  it("the host's own start (Node, pkcs11js) is not the module's loading: a slow one is not stuck", async () => {
    const binding = hang('require');
    const starting = startPkcs11Host(SOFTHSM_MODULE, {
      binding: HANGING_BINDING,
      stuckAfterMs: TIMEOUT_MS,
    });
    let settled = false;
    starting.catch(() => {}).finally(() => (settled = true));
    await binding.blocked();
    // Past the module's deadline while pkcs11js is still loading: a start refused as a stuck
    // module, whatever --pkcs11-timeout, when it was counted from the spawn.
    vi.advanceTimersByTime(TIMEOUT_MS + 1);
    await pause(10);
    expect(settled).toBe(false);
    binding.answer();
    const host = await starting;
    expect(host.stopped).toBe(false);
    host.stop();
  });

  it('a signing thread that cannot load the module fails its signature only; the next one signs', async () => {
    const { host, sign } = await loggedInHost();
    const fails = join(dir.dir, 'load-fails');
    writeFileSync(fails, '');
    await expect(sign()).rejects.toMatchObject({
      code: 'MODULE_ERROR',
      message:
        "the module's signing thread failed: cannot load the module there: load refused (test)",
    });
    rmSync(fails);
    expect(await sign()).toHaveLength(64);
    expect(host.stopped).toBe(false);
    host.stop();
  });

  it('signing threads idle for idleThreadMs end: a burst does not keep its threads', async () => {
    const { host, openSession, sign } = await loggedInHost({ idleThreadMs: 20 });
    const before = threads(host.pid);
    const sessions = await Promise.all([openSession(), openSession(), openSession()]);
    await Promise.all(sessions.map((session) => sign(session)));
    expect(threads(host.pid)).toBeGreaterThan(before);
    while (threads(host.pid) > before) await pause(20);
    expect(await sign()).toHaveLength(64); // a new thread, when one is needed
    host.stop();
  });

  it('arguments that cannot be sent fail their call, and leave nothing waiting', async () => {
    const host = await startPkcs11Host(SOFTHSM_MODULE, { stuckAfterMs: TIMEOUT_MS });
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    await expect(host.C_Initialize(circular as never)).rejects.toThrow(RangeError);
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect(host.stopped).toBe(false); // no stuck timer was left behind for it
    host.stop();
  });

  it("the module's process gets neither NODE_OPTIONS nor the server's option variables", async () => {
    const saved = { ...process.env };
    process.env['NODE_OPTIONS'] = '--max-old-space-size=300';
    process.env['PKCS11_URI'] = 'pkcs11:object=k?module-path=/x&pin-value=S3cret-PIN';
    process.env['FILE_SIGNER_PASSWD'] = 'S3cret-password';
    let host: Pkcs11Calls;
    try {
      host = await startPkcs11Host(SOFTHSM_MODULE, { stuckAfterMs: TIMEOUT_MS });
    } finally {
      process.env = saved;
    }
    const environment = readFileSync(`/proc/${host.pid}/environ`, 'utf8').split('\0');
    expect(
      environment.filter((line) => /^(NODE_OPTIONS|PKCS11_URI|FILE_SIGNER_PASSWD)=/.test(line)),
    ).toEqual([]);
    expect(environment).toContain(`SOFTHSM2_CONF=${hsm.conf}`); // the module's own stays
    host.stop();
  });
});
