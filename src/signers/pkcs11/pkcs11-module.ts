import type * as Pkcs11Js from 'pkcs11js';
import { CKF_OS_LOCKING_OK } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';

/** The pkcs11js binding (a CommonJS module: its constants live on the default export). */
export type Pkcs11Library = typeof Pkcs11Js;
export type Pkcs11Api = Pkcs11Js.PKCS11;
export type Handle = Pkcs11Js.Handle;

/** A loaded PKCS#11 module, shared by every signer of the process that names the same library. */
export interface LoadedModule {
  readonly path: string;
  readonly lib: Pkcs11Library;
  readonly api: Pkcs11Api;
  /** Incremented by every re-initialization: sessions and handles of older ones are gone. */
  generation: number;
  users: number;
}

/** How a module is loaded; tests pass one that injects faults. */
export type LoadModule = (path: string) => Promise<{ lib: Pkcs11Library; api: Pkcs11Api }>;

/** pkcs11js is imported here, on first use, so that a server without a PKCS#11 key never loads it. */
export const loadPkcs11js: LoadModule = async (path) => {
  let lib: Pkcs11Library;
  try {
    lib = ((await import('pkcs11js')) as unknown as { default: Pkcs11Library }).default;
  } catch (error) {
    throw new Pkcs11Error(
      'MODULE_LOAD',
      'the pkcs11js binding is not installed or not built (it needs build-essential and python3 at npm install)',
      { cause: error },
    );
  }
  const api = new lib.PKCS11();
  try {
    api.load(path);
  } catch (error) {
    throw new Pkcs11Error(
      'MODULE_LOAD',
      `cannot load the PKCS#11 module ${path}: ${errorName(error)}`,
      {
        cause: error,
      },
    );
  }
  return { lib, api };
};

const modules = new Map<string, Promise<LoadedModule>>();

/** The module at `path`, loaded and C_Initialize'd once per process (C_Initialize is per process). */
export function acquireModule(
  path: string,
  load: LoadModule = loadPkcs11js,
): Promise<LoadedModule> {
  let loaded = modules.get(path);
  if (!loaded) {
    loaded = (async () => {
      const { lib, api } = await load(path);
      initialize(api, path);
      return { path, lib, api, generation: 0, users: 0 };
    })();
    modules.set(path, loaded);
    loaded.catch(() => modules.delete(path));
  }
  return loaded.then((module) => {
    module.users++;
    return module;
  });
}

/** Finalizes the module when its last user is done. */
export function releaseModule(module: LoadedModule): void {
  if (--module.users > 0) return;
  modules.delete(module.path);
  try {
    module.api.C_Finalize();
  } catch {
    // already finalized, or the library is in a bad state: nothing left to release
  }
}

/**
 * Finalizes and initializes the module again: after a token was removed or an HSM restarted, many
 * modules (SoftHSM2, network HSM clients) only see it again after a fresh C_Initialize.
 */
export function reinitialize(module: LoadedModule, seenGeneration: number): void {
  if (module.generation !== seenGeneration) return; // another signer already did
  module.generation++;
  try {
    module.api.C_Finalize();
  } catch {
    // not initialized any more: initialize below
  }
  initialize(module.api, module.path);
}

function initialize(api: Pkcs11Api, path: string): void {
  try {
    // C_Sign runs on several libuv threads at once: without CKF_OS_LOCKING_OK (NULL init args),
    // the module may assume a single thread and take no locks (SoftHSM2 then crashes).
    api.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (error) {
    if (errorName(error) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') return;
    throw new Pkcs11Error('MODULE_LOAD', `C_Initialize of ${path} failed: ${errorName(error)}`, {
      cause: error,
    });
  }
}

/** The CKR_ name of a pkcs11js error (its message), else the error's message. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] || error.name : String(error);
}
