import { settledWithin, withDeadline } from '../kms/deadline.js';
import { CKF_OS_LOCKING_OK } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';
import { startPkcs11Thread, type Pkcs11Calls } from './pkcs11-thread.js';

export type { Handle, Pkcs11Calls } from './pkcs11-thread.js';

/** A loaded PKCS#11 module, shared by every signer of the process that names the same library. */
export interface LoadedModule {
  readonly path: string;
  /** The module's functions, on its own thread; a new thread after one died (see reinitialize). */
  calls: Pkcs11Calls;
  /** How it was loaded: how a thread that died is replaced. */
  readonly load: LoadModule;
  /** Incremented by every re-initialization: sessions and handles of older ones are gone. */
  generation: number;
  users: number;
}

/** How a module is loaded; tests pass one that injects faults. */
export type LoadModule = (path: string) => Promise<Pkcs11Calls>;

/**
 * The module on a thread of its own. pkcs11js is loaded there, on first use: a server without a
 * PKCS#11 key never loads it.
 */
export const loadOnThread: LoadModule = (path) => startPkcs11Thread(path);

const modules = new Map<string, Promise<LoadedModule>>();

/**
 * The module at `path`, loaded and C_Initialize'd once per process (C_Initialize is per process);
 * a C_Initialize not answered within `timeoutMs` fails (TIMEOUT: a network HSM's client may
 * connect to the HSM there).
 */
export function acquireModule(
  path: string,
  timeoutMs: number,
  load: LoadModule = loadOnThread,
): Promise<LoadedModule> {
  let loaded = modules.get(path);
  if (!loaded) {
    loaded = (async () => {
      const calls = await load(path);
      try {
        await initialize(calls, path, timeoutMs);
      } catch (error) {
        calls.stop();
        throw error;
      }
      return { path, calls, load, generation: 0, users: 0 };
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
 * Finalizes the module and stops its thread when its last user is done. C_Finalize is waited for
 * `waitMs` at most: behind a call that hangs on the thread it would never run.
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
 * modules (SoftHSM2, network HSM clients) only see it again after a fresh C_Initialize. A thread
 * that died is replaced.
 */
export async function reinitialize(
  module: LoadedModule,
  seenGeneration: number,
  timeoutMs: number,
): Promise<void> {
  if (module.generation !== seenGeneration) return; // another signer already did
  module.generation++;
  if (module.calls.stopped) {
    module.calls = await module.load(module.path);
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
    // C_Sign runs on several libuv threads at once: without CKF_OS_LOCKING_OK (NULL init args),
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
 * cannot be stopped: it keeps the module's thread until the module returns.
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
