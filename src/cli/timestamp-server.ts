#!/usr/bin/env node
/**
 * The executable entry of `timestamp-server`: it holds SIGTERM and SIGINT (held-signals.ts) before
 * the program's modules load, and ignores SIGHUP from then on (log rotation must never kill the
 * server), then runs the program (server-program.ts). As PID 1 in a container a
 * signal without a handler is ignored: one sent while the modules load would be lost. `serve`'s
 * lifecycle takes the held signal over and handles it as one received while starting (exit 143 for
 * SIGTERM, 130 for SIGINT). Imports nothing heavy (no logger, no configuration) before the program.
 */
import cluster from 'node:cluster';
import { writeSync } from 'node:fs';
import { stackFrames } from '../errors.js';
import { WORKER_ROLE_VARIABLE } from '../runtime/cluster/messages.js';
import {
  holdStopSignals,
  ignoreHangup,
  stoppedStatus,
  takeOverStopSignals,
} from './held-signals.js';

/**
 * Node's own printer of an uncaught error shows its message, stack and, for a JSON.parse error,
 * the source line it stopped at: a library's error can quote a credentials file or a URL with its
 * password (a malformed GOOGLE_APPLICATION_CREDENTIALS printed its private_key line). Instead one
 * line with the error's class and code, never its message, then its stack frames (where, for the
 * bug report), and exit 1 as Node would ('exit' listeners still run: the log destination writes
 * what it kept).
 */
function exitOnUncaught(kind: string) {
  return (error: unknown) => {
    const name = error instanceof Error ? error.name : typeof error;
    const code = (error as { code?: unknown } | null)?.code;
    const shown = `${name}${typeof code === 'string' || typeof code === 'number' ? ` ${code}` : ''}`;
    writeSync(
      2,
      `timestamp-server: ${kind} (${shown.replace(/[^\w .:-]/g, '?')}), exiting with 1; its message is not printed (it may quote a secret)\n${stackFrames(error)}`,
    );
    process.exit(1);
  };
}

process.on('uncaughtException', exitOnUncaught('uncaught exception'));
process.on('unhandledRejection', exitOnUncaught('unhandled promise rejection'));

// Not in a worker of our cluster: the primary ends a worker still starting with SIGTERM, which must
// kill it as it always did (runtime/cluster/supervisor.ts), and the worker is never PID 1. SIGHUP
// is ignored in every process, a worker loading too: a terminal's hang-up, or `kill -HUP` of the
// process group, reaches the workers as well, and killed those still loading.
if (!(cluster.isWorker && process.env[WORKER_ROLE_VARIABLE] === '1')) holdStopSignals();
else ignoreHangup();

await import('./server-program.js');

// Not taken over: a command other than serve (version, help), or serve ending before its lifecycle
// (--print-config, a configuration error). A signal held meanwhile ends the process with the status
// its default action would have given; from here on, a signal has its default action again.
const held = takeOverStopSignals();
if (held) process.exit(stoppedStatus(held));
