import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type * as Pkcs11Js from 'pkcs11js';
import { optionVariables } from '../../config/environment.js';
import { Pkcs11CallError, Pkcs11Error } from './pkcs11-error.js';
import { pkcs11HostStops } from './pkcs11-metrics.js';

type Pkcs11Api = Pkcs11Js.PKCS11;
export type Handle = Pkcs11Js.Handle;

/** The module functions the signer calls, each answered by the module's host process. */
const FUNCTIONS = [
  'C_Initialize',
  'C_Finalize',
  'C_GetInfo',
  'C_GetSlotList',
  'C_GetSlotInfo',
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
 * A PKCS#11 module's functions, called in the module's own process (its host): whatever a module
 * does in a call (a network HSM's client may go to the HSM in any of them, C_SignInit included),
 * however long, the event loop never waits for it, and a module that crashes takes only its host
 * down. A call that hangs holds the host, and the calls after it queue there; the signer's deadline
 * answers the requests meanwhile, and a call still unanswered after `stuckAfterMs` stops the host.
 */
export type Pkcs11Calls = {
  [Name in FunctionName]: (
    ...args: Parameters<Pkcs11Api[Name]>
  ) => Promise<ReturnType<Pkcs11Api[Name]>>;
} & {
  C_FindObjects(session: Handle, maxObjectCount: number): Promise<Handle[]>;
  /**
   * C_SignInit, then C_Sign, on a thread of the host's for this signature alone (so several
   * sessions sign at once, a network HSM's round trips included): one round trip to the host a
   * signature.
   */
  sign(
    session: Handle,
    mechanism: SignMechanism,
    key: Handle,
    input: Buffer,
    signatureLength: number,
  ): Promise<Buffer>;
  /** Kills the host; calls not answered yet fail (HOST_STOPPED). */
  stop(): void;
  /** The host's process ID. */
  readonly pid: number;
  /** Whether the host stopped (by stop(), stuck, or it died): every call fails. */
  readonly stopped: boolean;
};

/**
 * Messages are JSON (Node's IPC: faster than its structured clone for these small messages):
 * Buffers travel as `{ $b: base64 }`, BigInts (some CK_ULONGs) as `{ $n: decimal }`. Both sides
 * use these two: the host's scripts embed their source, so they must stay self-contained (globals
 * only) and declare no named function inside (a transpiler that keeps names, as tsx does, wraps
 * those in a helper the scripts do not have).
 */
function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, toWire(each)]));
  }
  return value;
}

function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === 'object') {
    const { $b, $n } = value as { $b?: unknown; $n?: unknown };
    if (typeof $b === 'string') return Buffer.from($b, 'base64');
    if (typeof $n === 'string') return BigInt($n);
    return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, fromWire(each)]));
  }
  return value;
}

/**
 * A thread of the host that calls the module: `control` (one, every call but signatures, in the
 * order sent) or `signer` (one per signature in flight: C_SignInit and C_Sign, which a network
 * HSM's client may both take to the HSM; on one thread those round trips would be made one at a
 * time, whatever the number of sessions). It loads the binding and the module (one per process:
 * dlopen gives every thread the same, initialized once by the control thread's C_Initialize),
 * first says whether it loaded, then answers each call with its value or its error's message
 * (pkcs11js names the CKR_ there).
 */
const MODULE_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
${fromWire.toString()}
let lib, api;
try {
  lib = require(workerData.binding);
  // Node and the binding are up: what follows is the vendor module's loading, which may hang.
  parentPort.postMessage({ id: -2 });
  try {
    api = new lib.PKCS11();
    api.load(workerData.modulePath);
    parentPort.postMessage({ id: -1 });
  } catch (error) {
    api = undefined;
    parentPort.postMessage({ id: -1, failed: 'module', error: String(error.message) });
  }
} catch (error) {
  parentPort.postMessage({ id: -1, failed: 'binding', error: String(error.message) });
}
const sign = (session, mechanism, key, input, signatureLength) => {
  if (mechanism.parameter) mechanism.parameter.type = lib[mechanism.parameter.type];
  api.C_SignInit(session, mechanism, key);
  return api.C_Sign(session, input, Buffer.alloc(signatureLength));
};
if (api) {
  parentPort.on('message', ({ id, name, args }) => {
    try {
      const call = name === 'sign' ? sign : api[name].bind(api);
      parentPort.postMessage({ id, value: call(...fromWire(args)) });
    } catch (error) {
      parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
    }
  });
}
`;

/**
 * The host's main thread: relays calls between the server and the module's threads, and never
 * calls the module itself, so a call that hangs holds one thread and the answers of the others
 * still get through, and the server's end of the channel closing is always seen: the host then
 * kills itself (the server exited, or was killed; process.exit would wait for a thread held in a
 * module call). Plain CommonJS, given to `node -` on standard input: no file to find from src/,
 * dist/ or a bundle, and no script in its argv; the settings are written in (a message sent
 * before its listener exists could be lost). Its standard output goes to the server's standard
 * error, so a module that prints cannot break the JSON log.
 *
 * A signing thread idle for `idleThreadMs` ends: each holds a V8 heap (~9 MiB), and a burst must
 * not keep them all for good. One whose call cannot be made (it could not load the module, or
 * died) fails that call only; the control thread dying ends the process, since the calls queued
 * there cannot be answered (the server then starts another).
 */
const hostScript = (binding: string, modulePath: string, idleThreadMs: number): string => `
'use strict';
process.title = 'timestamp-server-pkcs11';
${toWire.toString()}
const { Worker } = require('node:worker_threads');
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
const send = ({ id, value, error, failed }) =>
  process.send(error === undefined ? { id, value: toWire(value) } : { id, error, failed });
const moduleThread = () =>
  new Worker(${JSON.stringify(MODULE_THREAD)}, {
    eval: true,
    workerData: { binding: ${JSON.stringify(binding)}, modulePath: ${JSON.stringify(modulePath)} },
  });
const idleSigners = [];
const endSigner = (thread) => {
  thread.ended = true;
  clearTimeout(thread.idleTimer);
  const at = idleSigners.indexOf(thread);
  if (at >= 0) idleSigners.splice(at, 1);
  thread.terminate();
};
const failSigner = (thread, why) => {
  if (thread.ended) return;
  const id = thread.callId;
  endSigner(thread);
  if (id !== undefined) send({ id, error: "the module's signing thread failed: " + why });
};
const startSigner = () => {
  const thread = moduleThread();
  thread.on('message', (message) => {
    if (message.id === -2) return;
    if (message.id === -1) {
      if (message.failed) failSigner(thread, 'cannot load the module there: ' + message.error);
      return;
    }
    thread.callId = undefined;
    send(message);
    thread.idleTimer = setTimeout(() => endSigner(thread), ${idleThreadMs});
    idleSigners.push(thread);
  });
  thread.on('error', (error) => failSigner(thread, String(error && error.message)));
  thread.on('exit', () => failSigner(thread, 'it exited'));
  return thread;
};
const sign = (call) => {
  let thread = idleSigners.pop();
  if (thread) clearTimeout(thread.idleTimer);
  else {
    try {
      thread = startSigner();
    } catch (error) {
      return send({ id: call.id, error: 'cannot start a signing thread: ' + error.message });
    }
  }
  thread.callId = call.id;
  thread.postMessage(call);
};
const control = moduleThread()
  .on('message', (message) => {
    if (message.id === -2) return process.send({ booted: true });
    if (message.id !== -1) return send(message);
    // Loaded, or why not: the server's first answer.
    process.send(message);
    if (message.failed) return;
    process.on('message', (call) =>
      call.name === 'sign' ? sign(call) : control.postMessage(call),
    );
  })
  .on('error', () => process.kill(process.pid, 'SIGKILL'))
  .on('exit', () => process.kill(process.pid, 'SIGKILL'));
`;

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** How long Node and pkcs11js may take to start in the host, beyond the module's own loading. */
const HOST_START_MS = 30_000;

/** The host's first message: loaded, or what failed. */
interface Loaded {
  failed?: 'binding' | 'module' | 'host' | 'stuck';
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

/** What every call of a stopped host (stopped, stuck, or died) fails with. */
const hostStopped = (reason: string): Pkcs11CallError =>
  new Pkcs11CallError('HOST_STOPPED', `the PKCS#11 module's process stopped (${reason})`);

/** The name of a call in messages: `sign` is C_SignInit and C_Sign. */
const callName = (name: string): string => (name === 'sign' ? 'C_SignInit/C_Sign' : name);

/** A call's answer: its value, or its error's message. */
interface Answer {
  id: number;
  value?: unknown;
  error?: string;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  stuck: NodeJS.Timeout;
}

export interface HostOptions {
  /** The pkcs11js package (tests pass one that wraps it). */
  binding?: string;
  /**
   * A call not answered within this long (from when it is sent) means the module is stuck: the
   * host is killed. Loading the module is bounded by it too. Read at each call: the module's users
   * may raise it (pkcs11-module.ts).
   */
  stuckAfterMs: number;
  /** How long a signing thread may stay idle before it ends (default 60 s). */
  idleThreadMs?: number;
  /** Told why, when the host stops other than by stop(): stuck (killed), or died. */
  onStopped?: (reason: string) => void;
}

const DEFAULT_IDLE_THREAD_MS = 60_000;

/**
 * The host's environment: the server's, less NODE_OPTIONS (a preload meant for the server has no
 * business there) and the variables that set the server's options (they may hold secrets: a URI
 * with its pin-value, a password). A module's own variables (SOFTHSM2_CONF, a vendor client's
 * configuration) stay.
 */
function hostEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  for (const name of optionVariables(env)) delete env[name];
  return env;
}

/** Starts the host of the module at `modulePath` and loads the module there (not initialized). */
export async function startPkcs11Host(
  modulePath: string,
  options: HostOptions,
): Promise<Pkcs11Calls> {
  let { binding } = options;
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url).resolve('pkcs11js');
    } catch (error) {
      throw loadError('binding', modulePath, errorMessage(error));
    }
  }
  // Detached: a terminal's Ctrl-C reaches the server, which drains its requests and then stops
  // the host, not the host first.
  const host = spawn(process.execPath, ['-'], {
    stdio: ['pipe', 2, 2, 'ipc'],
    serialization: 'json',
    detached: true,
    env: hostEnvironment(),
  });
  host.stdin?.on('error', () => {}); // a host that died at once: its 'exit' says so
  host.stdin?.end(hostScript(binding, modulePath, options.idleThreadMs ?? DEFAULT_IDLE_THREAD_MS));
  const waiting = new Map<number, Waiting>();
  let nextId = 0;
  let stoppedBy: string | undefined;
  const stop = (reason: string, cause?: 'stuck' | 'died'): void => {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    if (stoppedBy) return;
    stoppedBy = reason;
    for (const { reject, stuck } of waiting.values()) {
      clearTimeout(stuck);
      reject(hostStopped(reason));
    }
    waiting.clear();
    if (cause) {
      pkcs11HostStops.inc({ reason: cause });
      options.onStopped?.(reason);
    }
  };
  const idle = (): void => {
    host.unref();
    host.channel?.unref();
  };
  // Loaded, or why not: the host's first message after `booted`. A module whose loading does not
  // return (a vendor client connecting to its HSM there) is stuck like a call that does not; the
  // time Node and pkcs11js take to start before it (a few hundred ms on a busy machine) is not the
  // module's, and is bounded apart, so a short --pkcs11-timeout does not fail every start.
  const loaded = await new Promise<Loaded>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (result: Loaded): void => {
      clearTimeout(timer);
      host.off('message', onMessage);
      resolve(result);
    };
    const failAfter = (ms: number, failure: Loaded): void => {
      clearTimeout(timer);
      timer = setTimeout(() => settle(failure), ms);
    };
    const onMessage = (message: Loaded & { booted?: true }): void => {
      if (!message.booted) return settle(message);
      const error = `not loaded within ${options.stuckAfterMs} ms: the module is stuck`;
      failAfter(options.stuckAfterMs, { failed: 'stuck', error });
    };
    host.on('message', onMessage);
    host.once('error', (error: Error) => settle({ failed: 'host', error: error.message }));
    host.once('exit', (code, signal) =>
      settle({ failed: 'host', error: `the process exited (${signal ?? `code ${code}`})` }),
    );
    const startMs = HOST_START_MS + options.stuckAfterMs;
    failAfter(startMs, { failed: 'host', error: `the process did not start within ${startMs} ms` });
  });
  if (loaded.failed) {
    stop('not loaded');
    throw loadError(loaded.failed, modulePath, loaded.error ?? '');
  }
  host.on('message', ({ id, value, error }: Answer) => {
    const call = waiting.get(id);
    if (!call) return;
    waiting.delete(id);
    clearTimeout(call.stuck);
    if (waiting.size === 0) idle();
    if (error !== undefined) call.reject(new Pkcs11CallError('MODULE_ERROR', error));
    else call.resolve(fromWire(value));
  });
  host.on('error', (error: NodeJS.ErrnoException) => {
    // A message sent as the host died: its 'exit' follows, with the reason.
    if (error.code === 'ERR_IPC_CHANNEL_CLOSED') return;
    stop(error.message.split('\n')[0] ?? 'error', 'died');
  });
  host.on('exit', (code, signal) =>
    stop(signal ? `killed by ${signal}` : `exit code ${code}`, 'died'),
  );
  // Idle, the host never keeps this process alive; a call waiting for it does.
  idle();

  const call = (name: string, args: unknown[]): Promise<unknown> => {
    if (stoppedBy) {
      return Promise.reject(hostStopped(stoppedBy));
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      try {
        host.send({ id, name, args: toWire(args) });
      } catch (error) {
        return reject(error as Error); // not sent (arguments JSON cannot carry): nothing waits
      }
      if (waiting.size === 0) {
        host.ref();
        host.channel?.ref();
      }
      const stuck = setTimeout(
        () =>
          stop(
            `${callName(name)} not answered within ${options.stuckAfterMs} ms: the module is stuck`,
            'stuck',
          ),
        options.stuckAfterMs,
      );
      waiting.set(id, { resolve, reject, stuck });
    });
  };
  const calls = {
    sign: (...args: unknown[]) => call('sign', args),
    C_FindObjects: (...args: unknown[]) => call('C_FindObjects', args),
    stop: () => stop('stopped'),
    get stopped() {
      return stoppedBy !== undefined;
    },
    pid: host.pid,
  } as Record<string, unknown>;
  for (const name of FUNCTIONS) calls[name] = (...args: unknown[]) => call(name, args);
  return calls as unknown as Pkcs11Calls;
}
