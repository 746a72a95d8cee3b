import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import {
  isMessage,
  WORKER_ROLE_VARIABLE,
  WORKER_SLOT_VARIABLE,
  type SetupMessage,
} from './messages.js';
import { RuntimeError } from '../runtime-error.js';

/** A replacement worker that dies sooner than this is restarted after a pause, not in a hot loop. */
const QUICK_DEATH_MS = 5_000;
const RESTART_PAUSE_MS = 1_000;
/** Beyond --graceful-timeout, how long a draining worker may take to exit before it is killed. */
const EXIT_GRACE_MS = 5_000;

export interface WorkerAddresses {
  url: string;
  tlsUrl?: string;
}

export interface SupervisorOptions {
  workerCount: number;
  /** --graceful-timeout, in ms: how long a worker's drain may take. */
  gracefulTimeoutMs: number;
  logger: FastifyBaseLogger;
  /** The answer to a worker's hello: what it needs before it builds its authority. */
  setup: () => SetupMessage;
  /** Sees every message of every worker first (e.g. a clock step a worker saw). */
  onMessage?: (message: unknown) => void;
  /** A worker exited while the server runs (it is replaced): counted for /metrics. */
  onUnexpectedExit?: () => void;
  /** Starts one worker process (cluster.fork; tests give a fake). */
  forkWorker?: (env: Record<string, string>) => Worker;
}

/**
 * Forks the workers that share the port, replaces a worker that dies once all serve, and drains
 * them all on shutdown.
 */
export interface WorkerSupervisor {
  /** Workers that said hello: their IPC listeners are attached (a metrics scrape asks them). */
  readonly listening: ReadonlySet<Worker>;
  /**
   * Forks workerCount workers and resolves with their addresses once all serve. If one exits
   * first, ends those still starting and rejects (drain() then waits for them).
   */
  start(): Promise<WorkerAddresses>;
  /** Tells every worker to drain; resolves once all have exited (killing stragglers). */
  drain(): Promise<void>;
}

const describeExit = (code: number | null, signal: string | null) =>
  signal ? `signal ${signal}` : `code ${code}`;

/**
 * A worker takes its configuration from tsa:setup, so its command line is `serve` alone: no flags,
 * and none of the secrets an operator gave as flags in N more process listings.
 */
function forkServeWorker(env: Record<string, string>): Worker {
  cluster.setupPrimary({ args: ['serve'] });
  return cluster.fork(env);
}

export function createWorkerSupervisor(options: SupervisorOptions): WorkerSupervisor {
  const { logger, forkWorker = forkServeWorker } = options;
  const listening = new Set<Worker>();
  /** Replacements start only once the first workers all serve; a start-up failure stops the start. */
  let running = false;
  let shuttingDown = false;
  const restartTimers = new Set<NodeJS.Timeout>();

  /**
   * Forks the worker of `slot` (1..workerCount); resolves with its addresses once it serves,
   * rejects if it exits first. The slot names the worker's audit log file: one writer per file.
   */
  const fork = (slot: number) => {
    const worker = forkWorker({
      [WORKER_ROLE_VARIABLE]: '1',
      [WORKER_SLOT_VARIABLE]: String(slot),
    });
    const forkedAt = Date.now();
    // A send to a worker that has died but whose exit is not yet seen fails with EPIPE; unheard,
    // that 'error' would crash the primary (and every scrape or request it holds). Its exit follows.
    worker.on('error', (error) =>
      logger.warn({ worker: worker.id, err: error }, `cannot message worker ${worker.id}`),
    );
    worker.on('message', (message: unknown) => {
      options.onMessage?.(message);
      if (!isMessage(message, 'tsa:hello')) return;
      listening.add(worker);
      worker.send(options.setup());
    });
    const serving = new Promise<WorkerAddresses>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (!isMessage(message, 'tsa:serving')) return;
        worker.off('message', onMessage);
        resolve({ url: message.url, ...(message.tlsUrl ? { tlsUrl: message.tlsUrl } : {}) });
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) =>
        reject(
          new RuntimeError(
            'WORKER_EXITED_EARLY',
            `worker ${worker.id} exited with ${describeExit(code, signal)} before serving`,
          ),
        ),
      );
    });
    worker.once('exit', (code, signal) => {
      listening.delete(worker);
      if (shuttingDown || !running) return;
      options.onUnexpectedExit?.();
      const lived = Date.now() - forkedAt;
      logger.error(
        { worker: worker.id, pid: worker.process.pid, code, signal },
        `worker ${worker.id} (pid ${worker.process.pid}) exited with ${describeExit(code, signal)}; starting a replacement`,
      );
      // Forked after this exit: the slot's file never has two writers.
      replaceAfter(slot, lived < QUICK_DEATH_MS ? RESTART_PAUSE_MS : 0);
    });
    return { worker, serving };
  };
  const replaceAfter = (slot: number, delayMs: number) => {
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!shuttingDown) void replace(slot);
    }, delayMs);
    restartTimers.add(timer);
  };
  const replace = async (slot: number) => {
    let forked;
    try {
      // cluster.fork throws at once when the OS refuses a process (EAGAIN, EMFILE): no exit follows.
      forked = fork(slot);
    } catch (error) {
      logger.error(
        { err: error },
        `cannot start a replacement worker: ${error instanceof Error ? error.message : String(error)}; trying again`,
      );
      replaceAfter(slot, RESTART_PAUSE_MS);
      return;
    }
    const { worker, serving } = forked;
    try {
      await serving;
      logger.info({ worker: worker.id, pid: worker.process.pid }, `worker ${worker.id} replaced`);
    } catch {
      // Its exit handler logs it and tries again.
    }
  };

  return {
    listening,
    async start() {
      const started = Array.from({ length: options.workerCount }, (_, index) => fork(index + 1));
      let addresses: WorkerAddresses;
      try {
        [addresses] = (await Promise.all(started.map(({ serving }) => serving))) as [
          WorkerAddresses,
        ];
      } catch (error) {
        // Workers still starting have no drain handler yet: SIGTERM ends them at once.
        for (const { worker } of started) if (!worker.isDead()) worker.process.kill('SIGTERM');
        throw error;
      }
      running = true;
      return addresses;
    },
    async drain() {
      shuttingDown = true;
      restartTimers.forEach(clearTimeout);
      const workers = Object.values(cluster.workers ?? {}).filter(
        (worker): worker is Worker => worker !== undefined,
      );
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              const deadline = setTimeout(() => {
                logger.warn(`worker ${worker.id} did not exit after draining; killing it`);
                worker.process.kill('SIGKILL');
              }, options.gracefulTimeoutMs + EXIT_GRACE_MS);
              worker.once('exit', () => {
                clearTimeout(deadline);
                resolve();
              });
              if (worker.isConnected()) worker.send({ type: 'tsa:drain' });
              else worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
