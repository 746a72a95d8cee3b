import { settledWithin, withDeadline } from '../../deadline.js';
import { Semaphore } from '../kms/semaphore.js';
import { CKF_OS_LOCKING_OK } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';
import { startPkcs11Host, type HostOptions, type Pkcs11Calls } from './pkcs11-host.js';
import { TokenLogins } from './token-logins.js';

export type { Handle, Pkcs11Calls } from './pkcs11-host.js';

/** A loaded PKCS#11 module, shared by every signer of the process that names the same library. */
export interface LoadedModule {
  readonly path: string;
  /** The module's functions, in its own process; a new one after one stopped (see reinitialize). */
  calls: Pkcs11Calls;
  /** How it was loaded: how a process that stopped is replaced. */
  readonly load: LoadModule;
  /** How its process is started, and restarted; its users may raise `stuckAfterMs`. */
  readonly settings: HostSettings;
  /**
   * Incremented when a re-initialization starts: sessions and handles of older generations are
   * gone, and the same numbers may name other objects now (another signer's key, session).
   */
  generation: number;
  /** Whether the last (re-)initialization succeeded; one that failed is tried again. */
  ready: boolean;
  /** The re-initialization under way, which every user that needs one waits for. */
  restarting: Promise<void> | undefined;
  /**
   * Work of every user that holds this generation's handles (a signature, a session being opened,
   * a connection being made): a re-initialization waits for it, since C_Finalize under a running
   * call is undefined behaviour and the handles it returns would be stale.
   */
  readonly inFlight: Set<Promise<unknown>>;
  /**
   * Signatures in the module's process at once, each on a thread of its own there (~8.5 MiB of
   * memory each): all its users' together, at most `maxSigningThreads`; more wait here, within
   * their deadline, whatever their sessions.
   */
  readonly signingThreads: Semaphore;
  /**
   * C_Sign calls the token answered, a signature or an error, all its users' together: a busy
   * token answers some while a signature waits for a session or thread, a hung one none.
   */
  signAnswers: number;
  /** The PINs that logged its tokens in (a login is the token's: see TokenLogins). */
  readonly logins: TokenLogins;
  users: number;
}

/**
 * Signing threads of a module's process at most (see LoadedModule.signingThreads): ~270 MiB of
 * threads at most, where 1024 sessions (--pkcs11-max-sessions' maximum) would take ~8.7 GiB.
 */
export const MAX_SIGNING_THREADS = 32;

/** When the module's process counts as stuck, and who hears that it stopped. */
export type HostSettings = Omit<HostOptions, 'binding'>;

/** How a module is loaded; tests pass one that injects faults. */
export type LoadModule = (path: string, settings: HostSettings) => Promise<Pkcs11Calls>;

/**
 * The module in a process of its own. pkcs11js is loaded there: the server never loads it, and a
 * server without a PKCS#11 key starts no such process.
 */
export const loadInHost: LoadModule = (path, settings) => startPkcs11Host(path, settings);

/**
 * How long a module call may stay unanswered before the module counts as stuck and its process
 * is killed: twice the deadline of a call, so that a call that only ran late (its request already
 * failed at the deadline) still comes back and keeps the sessions and the login.
 */
const stuckAfter = (timeoutMs: number): number => 2 * timeoutMs;

const modules = new Map<string, Promise<LoadedModule>>();

export interface AcquireOptions {
  /** The deadline of a module call (--pkcs11-timeout). */
  timeoutMs: number;
  /** Told when the module's process stopped by itself (stuck, or died). */
  warn?: ((message: string) => void) | undefined;
  load?: LoadModule | undefined;
  /** Signing threads at most (default MAX_SIGNING_THREADS), as its first user says (tests). */
  maxSigningThreads?: number | undefined;
}

/**
 * The module at `path`, loaded and C_Initialize'd once per process (C_Initialize is per process);
 * a C_Initialize not answered within `timeoutMs` fails (TIMEOUT: a network HSM's client may
 * connect to the HSM there). Its users share one process, so the longest deadline among them
 * decides when a call counts as stuck: a user's call is never killed before its own deadline.
 */
export function acquireModule(path: string, options: AcquireOptions): Promise<LoadedModule> {
  const { timeoutMs, warn, load = loadInHost } = options;
  let loaded = modules.get(path);
  if (!loaded) {
    loaded = (async () => {
      const settings: HostSettings = {
        stuckAfterMs: stuckAfter(timeoutMs),
        onStopped: (reason) =>
          warn?.(
            `PKCS#11 module ${path}: its process stopped (${reason}); the next signature admitted starts it again`,
          ),
      };
      const calls = await load(path, settings);
      try {
        await initialize(calls, path, timeoutMs);
      } catch (error) {
        calls.stop();
        throw error;
      }
      const module: LoadedModule = {
        path,
        calls,
        load,
        settings,
        generation: 0,
        ready: true,
        restarting: undefined,
        inFlight: new Set(),
        signingThreads: new Semaphore(options.maxSigningThreads ?? MAX_SIGNING_THREADS),
        signAnswers: 0,
        logins: new TokenLogins(),
        users: 0,
      };
      return module;
    })();
    modules.set(path, loaded);
    loaded.catch(() => modules.delete(path));
  }
  return loaded.then((module) => {
    module.users++;
    module.settings.stuckAfterMs = Math.max(module.settings.stuckAfterMs, stuckAfter(timeoutMs));
    return module;
  });
}

/** `work`, counted in the module's work in flight until it settles (see LoadedModule.inFlight). */
export function track<T>(module: LoadedModule, work: Promise<T>): Promise<T> {
  module.inFlight.add(work);
  const done = () => module.inFlight.delete(work);
  work.then(done, done);
  return work;
}

/**
 * Finalizes the module and stops its process when its last user is done. C_Finalize is waited for
 * `waitMs` at most: behind a call that hangs in the module it would never run.
 */
export async function releaseModule(module: LoadedModule, waitMs: number): Promise<void> {
  if (--module.users > 0) return;
  modules.delete(module.path);
  if (module.restarting) await settledWithin([module.restarting], waitMs);
  // A rejection means already finalized, or a library in a bad state: nothing left to release.
  if (!module.calls.stopped) await settledWithin([module.calls.C_Finalize()], waitMs);
  module.calls.stop();
}

/**
 * Finalizes and initializes the module again, once for all its users: after a token was removed
 * or an HSM restarted, many modules (SoftHSM2, network HSM clients) only see it again after a
 * fresh C_Initialize. A process that stopped (stuck, or died) is replaced. `failedGeneration` is
 * the generation in which the caller saw the token fail: when the module has moved on since (a
 * re-initialization under way, or done by another user), that one is waited for, not repeated.
 */
export function reinitialize(
  module: LoadedModule,
  failedGeneration: number,
  timeoutMs: number,
): Promise<void> {
  if (module.restarting) return module.restarting;
  if (module.generation !== failedGeneration && module.ready) return Promise.resolve();
  module.generation++;
  module.ready = false;
  const restarting = restart(module, timeoutMs).finally(() => (module.restarting = undefined));
  module.restarting = restarting;
  return restarting;
}

async function restart(module: LoadedModule, timeoutMs: number): Promise<void> {
  // Bounded: a call that never returns gets the process killed (stuck), which fails the work.
  await Promise.allSettled([...module.inFlight]);
  if (module.calls.stopped) {
    module.calls = await module.load(module.path, module.settings);
  } else {
    try {
      await answered(module.calls.C_Finalize(), 'C_Finalize', module.path, timeoutMs);
    } catch (error) {
      if (error instanceof Pkcs11Error) throw error; // not answered: C_Initialize would wait too
      // not initialized any more: initialize below
    }
  }
  await initialize(module.calls, module.path, timeoutMs);
  module.ready = true;
}

async function initialize(calls: Pkcs11Calls, path: string, timeoutMs: number): Promise<void> {
  try {
    // Signatures run on several threads at once: without CKF_OS_LOCKING_OK (NULL init args),
    // the module may assume a single thread and take no locks (SoftHSM2 then crashes).
    await answered(
      calls.C_Initialize({ flags: CKF_OS_LOCKING_OK }),
      'C_Initialize',
      path,
      timeoutMs,
    );
  } catch (error) {
    if (error instanceof Pkcs11Error) throw error; // not answered
    if (errorName(error) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') return;
    throw new Pkcs11Error('MODULE_LOAD', `C_Initialize of ${path} failed: ${errorName(error)}`, {
      cause: error,
    });
  }
}

/**
 * `call`, or a TIMEOUT when the module has not answered `name` within `timeoutMs`. The call itself
 * cannot be stopped: it keeps the module's process until the module returns, or is stuck.
 */
export function answered<T>(
  call: Promise<T>,
  name: string,
  who: string,
  timeoutMs: number,
): Promise<T> {
  return withDeadline(
    timeoutMs,
    undefined,
    () => call,
    (options) =>
      new Pkcs11Error(
        'TIMEOUT',
        `${who}: the module did not answer ${name} within ${timeoutMs} ms`,
        options,
      ),
  );
}

/** The CKR_ name of a pkcs11js error (its message), else the error's message. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] || error.name : String(error);
}
