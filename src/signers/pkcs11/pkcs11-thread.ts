import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as Pkcs11Js from 'pkcs11js';
import { Pkcs11CallError, Pkcs11Error } from './pkcs11-error.js';

type Pkcs11Api = Pkcs11Js.PKCS11;
export type Handle = Pkcs11Js.Handle;

/** The module functions the signer calls, each answered by the PKCS#11 thread. */
const FUNCTIONS = [
  'C_Initialize',
  'C_Finalize',
  'C_GetSlotList',
  'C_GetTokenInfo',
  'C_OpenSession',
  'C_CloseSession',
  'C_Login',
  'C_FindObjectsInit',
  'C_FindObjectsFinal',
  'C_GetAttributeValue',
] as const;
type FunctionName = (typeof FUNCTIONS)[number];

/** A signing mechanism; a parameter's `type` names the binding's parameter kind (CK_PARAMS_...). */
export interface SignMechanism {
  mechanism: number;
  parameter?: { type: 'CK_PARAMS_RSA_PSS'; hashAlg: number; mgf: number; saltLen: number };
}

/**
 * A PKCS#11 module's functions, called on the module's own thread: whatever a module does in a
 * call (a network HSM's client may go to the HSM in any of them, C_SignInit included), and however
 * long, the event loop never waits for it. A call that hangs holds the thread, and the calls after
 * it queue there; the signer's deadline answers the requests meanwhile.
 */
export type Pkcs11Calls = {
  [Name in FunctionName]: (
    ...args: Parameters<Pkcs11Api[Name]>
  ) => Promise<ReturnType<Pkcs11Api[Name]>>;
} & {
  C_FindObjects(session: Handle, maxObjectCount: number): Promise<Handle[]>;
  /**
   * C_SignInit, then C_Sign on libuv's thread pool (so several sessions sign at once): one round
   * trip to the thread a signature.
   */
  sign(
    session: Handle,
    mechanism: SignMechanism,
    key: Handle,
    input: Buffer,
    signatureLength: number,
  ): Promise<Buffer>;
  /** Stops the thread; calls not answered yet fail (THREAD_STOPPED). */
  stop(): void;
  /** Whether the thread stopped (by stop(), or it died): every call fails. */
  readonly stopped: boolean;
};

/**
 * A Uint8Array made a Buffer again, in arrays and objects too: messages carry Buffers as
 * Uint8Arrays (structured clone). Both sides use it: the thread's script embeds its source, so it
 * must stay self-contained (globals only).
 */
function asBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(asBuffers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, asBuffers(each)]));
  }
  return value;
}

/**
 * The PKCS#11 thread: loads the binding and the module, runs each call it is sent, answers with
 * its value or its error's message (pkcs11js names the CKR_ there). Plain CommonJS, evaluated as
 * is: no file to find from src/, dist/ or a bundle. Buffers arrive as Uint8Arrays (structured
 * clone), so arguments are made Buffers again before the binding sees them.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
${asBuffers.toString()}
function load() {
  let lib;
  try {
    lib = require(workerData.binding);
  } catch (error) {
    return { failed: 'binding', error: String(error.message) };
  }
  try {
    const api = new lib.PKCS11();
    api.load(workerData.modulePath);
    return { lib, api };
  } catch (error) {
    return { failed: 'module', error: String(error.message) };
  }
}
const { lib, api, failed, error } = load();
const own = {
  sign(session, mechanism, key, input, signatureLength) {
    if (mechanism.parameter) mechanism.parameter.type = lib[mechanism.parameter.type];
    api.C_SignInit(session, mechanism, key);
    const output = Buffer.alloc(signatureLength);
    // The binding's pool thread reads input and writes output through raw pointers: both stay
    // referenced (by this closure) until it calls back, or the collector may free them under it.
    return api.C_SignAsync(session, input, output).finally(() => [input, output]);
  },
};
const answer = (id, value) => parentPort.postMessage({ id, value });
const fail = (id, error) =>
  parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
if (!failed) {
  parentPort.on('message', ({ id, name, args }) => {
    let result;
    try {
      const call = own[name] ?? api[name];
      result = call.apply(own[name] ? own : api, asBuffers(args));
    } catch (error) {
      return fail(id, error);
    }
    if (!(result instanceof Promise)) return answer(id, result);
    result.then((value) => answer(id, value), (error) => fail(id, error));
  });
}
parentPort.postMessage({ id: -1, failed, error });
`;

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** The thread's first message: loaded, or what failed. */
interface Loaded {
  failed?: 'binding' | 'module' | 'thread';
  error?: string;
}

function loadError(failed: Loaded['failed'], modulePath: string, message: string): Pkcs11Error {
  const reason = message.split('\n')[0] ?? '';
  if (failed === 'binding') {
    return new Pkcs11Error(
      'MODULE_LOAD',
      `the pkcs11js binding is not installed or not built (it needs build-essential and python3 at npm install): ${reason}`,
    );
  }
  return new Pkcs11Error('MODULE_LOAD', `cannot load the PKCS#11 module ${modulePath}: ${reason}`);
}

/** What every call of a stopped thread (stopped, or died) fails with. */
const threadStopped = (reason: string): Pkcs11CallError =>
  new Pkcs11CallError('THREAD_STOPPED', `the PKCS#11 thread stopped (${reason})`);

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * Starts the thread of the module at `modulePath` and loads it there (not initialized yet).
 * `binding` is the pkcs11js package (tests pass one that wraps it).
 */
export async function startPkcs11Thread(
  modulePath: string,
  binding?: string,
): Promise<Pkcs11Calls> {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url).resolve('pkcs11js');
    } catch (error) {
      throw loadError('binding', modulePath, errorMessage(error));
    }
  }
  const worker = new Worker(THREAD, { eval: true, workerData: { binding, modulePath } });
  const waiting = new Map<number, Waiting>();
  let nextId = 0;
  let stoppedBy: string | undefined;
  const stop = (reason: string): void => {
    if (stoppedBy) return;
    stoppedBy = reason;
    for (const { reject } of waiting.values()) {
      reject(threadStopped(reason));
    }
    waiting.clear();
  };
  // Loaded, or why not: the thread's first message.
  const loaded = await new Promise<Loaded>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (error: Error) => resolve({ failed: 'thread', error: error.message }));
  });
  if (loaded.failed) {
    void worker.terminate();
    throw loadError(loaded.failed, modulePath, loaded.error ?? '');
  }
  worker.on('message', ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
    const call = waiting.get(id);
    if (!call) return;
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
    if (error === undefined) call.resolve(asBuffers(value));
    else call.reject(new Pkcs11CallError('MODULE_ERROR', error));
  });
  // A thread that died must not take the server down ('error' without a listener is thrown).
  worker.on('error', (error: Error) => stop(error.message.split('\n')[0] ?? 'error'));
  worker.on('exit', (code: number) => stop(`exit code ${code}`));
  // Idle, the thread never keeps the process alive; a call waiting for it does.
  worker.unref();

  const call = (name: string, args: unknown[]): Promise<unknown> => {
    if (stoppedBy) {
      return Promise.reject(threadStopped(stoppedBy));
    }
    const id = nextId++;
    if (waiting.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, name, args });
    });
  };
  const calls = {
    sign: (...args: unknown[]) => call('sign', args),
    C_FindObjects: (...args: unknown[]) => call('C_FindObjects', args),
    stop: () => {
      stop('stopped');
      // Not awaited: a thread blocked in a module call cannot be stopped before that call returns.
      void worker.terminate();
    },
    get stopped() {
      return stoppedBy !== undefined;
    },
  } as Record<string, unknown>;
  for (const name of FUNCTIONS) calls[name] = (...args: unknown[]) => call(name, args);
  return calls as unknown as Pkcs11Calls;
}
