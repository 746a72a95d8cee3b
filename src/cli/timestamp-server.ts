#!/usr/bin/env node
/**
 * The executable entry of `timestamp-server`: it holds SIGTERM and SIGINT (held-signals.ts) before
 * the program's modules load, then runs the program (server-program.ts). As PID 1 in a container a
 * signal without a handler is ignored: one sent while the modules load would be lost. `serve`'s
 * lifecycle takes the held signal over and handles it as one received while starting (exit 143 for
 * SIGTERM, 130 for SIGINT). Imports nothing heavy (no logger, no configuration) before the program.
 */
import cluster from 'node:cluster';
import { WORKER_ROLE_VARIABLE } from '../runtime/cluster/messages.js';
import { holdStopSignals, stoppedStatus, takeOverStopSignals } from './held-signals.js';

// Not in a worker of our cluster: the primary ends a worker still starting with SIGTERM, which must
// kill it as it always did (runtime/cluster/supervisor.ts), and the worker is never PID 1.
if (!(cluster.isWorker && process.env[WORKER_ROLE_VARIABLE] === '1')) holdStopSignals();

await import('./server-program.js');

// Not taken over: a command other than serve (version, help), or serve ending before its lifecycle
// (--print-config, a configuration error). A signal held meanwhile ends the process with the status
// its default action would have given; from here on, a signal has its default action again.
const held = takeOverStopSignals();
if (held) process.exit(stoppedStatus(held));
