import { settledWithin, withDeadline } from '../kms/deadline.js';
import { CKF_OS_LOCKING_OK } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';
import { startPkcs11Host, type HostOptions, type Pkcs11Calls } from './pkcs11-host.js';

export type { Handle, Pkcs11Calls } from './pkcs11-host.js';

/** A loaded PKCS#11 module, shared by every signer of the process that names the same library. */
export interface LoadedModule {
  readonly path: string;
  /** The module's functions, in its own process; a new one after one stopped (see reinitialize). */
  calls: Pkcs11Calls;
  /** How it was loaded: how a process that stopped is replaced. */
  readonly load: LoadModule;
  /** How its process is started, and restarted. */
  readonly settings: HostSettings;
  /** Incremented by every re-initialization: sessions and handles of older ones are gone. */
  generation: number;
  users: number;
}

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
}

/**
 * The module at `path`, loaded and C_Initialize'd once per process (C_Initialize is per process);
 * a C_Initialize not answered within `timeoutMs` fails (TIMEOUT: a network HSM's client may
 * connect to the HSM there).
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
      return { path, calls, load, settings, generation: 0, users: 0 };
    })();
    modules.set(path, loaded);
    loaded.catch(() => modules.delete(path));
  }
  return loaded.then((module) => {
    module.users++;
    return module;
  });
}

/**
 * Finalizes the module and stops its process when its last user is done. C_Finalize is waited for
 * `waitMs` at most: behind a call that hangs in the module it would never run.
 */
export async function releaseModule(module: LoadedModule, waitMs: number): Promise<void> {
  if (--module.users > 0) return;
  modules.delete(module.path);
  // A rejection means already finalized, or a library in a bad state: nothing left to release.
  await settledWithin([module.calls.C_Finalize()], waitMs);
  module.calls.stop();
}

/**
 * Finalizes and initializes the module again: after a token was removed or an HSM restarted, many
 * modules (SoftHSM2, network HSM clients) only see it again after a fresh C_Initialize. A process
 * that stopped (stuck, or died) is replaced.
 */
export async function reinitialize(
  module: LoadedModule,
  seenGeneration: number,
  timeoutMs: number,
): Promise<void> {
  if (module.generation !== seenGeneration) return; // another signer already did
  module.generation++;
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
