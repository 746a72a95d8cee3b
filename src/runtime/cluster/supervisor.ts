import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import {
  isMessage,
  WORKER_ROLE_VARIABLE,
  WORKER_SLOT_VARIABLE,
  type SetupMessage,
} from './messages.js';
import { RuntimeError, startStoppedBySignal } from '../runtime-error.js';
import { EXIT_WAIT_MS } from '../../server/log-destination.js';
import { optionVariables } from '../../config/environment.js';

/** A worker that served this long is replaced at once, and its slot's restart pause starts over. */
export const STABLE_SERVING_MS = 10_000;
/**
 * The pause before replacing a worker that died sooner (or never served: a refused setup, a
 * changed key file), doubled at each such death of the slot's workers, up to the maximum.
 */
export const FIRST_RESTART_PAUSE_MS = 1_000;
export const MAX_RESTART_PAUSE_MS = 60_000;
/** The most of a worker's start-up failure repeated in the primary's lines. */
const MAX_REASON_LENGTH = 500;

/**
 * Beyond --graceful-timeout, how long a draining worker may take to exit before it is killed: 5 s,
 * and the wait for a log reader that stopped reading (log-destination.ts), which a worker whose
 * drain went well must not be killed for.
 */
const EXIT_GRACE_MS = EXIT_WAIT_MS + 5_000;
/**
 * How long the server may run with no worker serving (each died, and none of their replacements
 * has served since: from a steady state about five tries of each slot at the pauses above, one or
 * none where a crash loop had already grown them to MAX_RESTART_PAUSE_MS) before it gives up, so
 * that the orchestrator restarts the process, which is all it can watch: the port is closed but
 * the process lives, and /metrics answers.
 */
export const NO_WORKER_SERVING_LIMIT_MS = 60_000;

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
  onMessage?: (message: unknown, worker: Worker) => void;
  /** A worker exited while the server runs (it is replaced): counted for /metrics. */
  onUnexpectedExit?: () => void;
  /** Any worker exited (first, before the supervisor acts on it). */
  onExit?: (worker: Worker) => void;
  /** How many workers serve, each time it changes (for /metrics). */
  onServingChange?: (serving: number) => void;
  /**
   * No worker has served for `noWorkerServingLimitMs` while the server runs: the caller shuts the
   * server down and exits non-zero.
   */
  onNoWorkerServing?: (error: RuntimeError) => void;
  /** Default NO_WORKER_SERVING_LIMIT_MS (tests give their own). */
  noWorkerServingLimitMs?: number;
  /** Starts one worker process (cluster.fork; tests give a fake). */
  forkWorker?: (env: Record<string, string>) => Worker;
  /** A monotonic clock in ms, for how long a worker served (tests give a fake). */
  now?: () => number;
}

/**
 * Forks the workers that share the port, replaces a worker that dies once all serve, and drains
 * them all on shutdown.
 */
export interface WorkerSupervisor {
  /** Workers that said hello: their IPC listeners (and SIGHUP handler) are attached. */
  readonly listening: ReadonlySet<Worker>;
  /**
   * Forks workerCount workers and resolves with their addresses once all serve. If one exits
   * before all serve (even one that already served), or `signal` aborts, ends those still starting
   * and rejects (drain() then drains those that serve and waits for them all).
   */
  start(signal?: AbortSignal): Promise<WorkerAddresses>;
  /**
   * Tells every worker that listens to drain, and ends those still loading (SIGTERM: they have no
   * handler yet, and nothing in flight); resolves once all have exited, killing stragglers.
   * Rejects (WORKER_DRAIN_FAILED) once all have exited if a worker that was serving did not exit
   * with code 0: its close failed, or it was killed with requests possibly still in flight.
   */
  drain(): Promise<void>;
}

const describeExit = (code: number | null, signal: string | null) =>
  signal ? `signal ${signal}` : `code ${code}`;

/**
 * A worker takes its configuration from tsa:setup, so its command line is `serve` alone: no flags,
 * and none of the secrets an operator gave as flags in N more process listings. Nor does it get
 * the variables that set the server's options (FILE_SIGNER_PASSWD, TINK_HCVAULT_TOKEN, LEDGER_KEY,
 * TIMESTAMP_LEDGER_URL…; undefined: fork drops them from the primary's environment), as the
 * PKCS#11 host does not: it never reads them, and each copy is one more /proc/<pid>/environ
 * holding the secrets. What the SDKs read when the worker's signer runs (AWS_*, AZURE_*,
 * GOOGLE_APPLICATION_CREDENTIALS, VAULT_ADDR and VAULT_TOKEN, TINK_HCVAULT_ADDR, PG*…) names no
 * option and stays.
 */
function forkServeWorker(env: Record<string, string>): Worker {
  cluster.setupPrimary({ args: ['serve'] });
  const withoutOptions = Object.fromEntries(
    optionVariables(process.env).map((name) => [name, undefined]),
  );
  return cluster.fork({ ...withoutOptions, ...env });
}

export function createWorkerSupervisor(options: SupervisorOptions): WorkerSupervisor {
  const { logger, forkWorker = forkServeWorker, now = () => performance.now() } = options;
  /** Forked and not yet seen to exit. */
  const live = new Set<Worker>();
  const listening = new Set<Worker>();
  const serving = new Set<Worker>();
  /** Serving workers that have stopped accepting (tsa:draining, or the drain of all). */
  const draining = new Set<Worker>();
  /** Replacements start only once the first workers all serve; a start-up failure stops the start. */
  let running = false;
  let shuttingDown = false;
  /** While start() waits: stops it (a worker that exits, the abort signal). */
  let failStart: ((error: Error) => void) | undefined;
  const restartTimers = new Set<NodeJS.Timeout>();
  /** Each slot's next pause after a quick death; absent: FIRST_RESTART_PAUSE_MS. */
  const restartPauses = new Map<number, number>();
  /** Set while the server runs with no worker serving: when it fires, the server gives up. */
  let noneServing: NodeJS.Timeout | undefined;
  const noWorkerLimitMs = options.noWorkerServingLimitMs ?? NO_WORKER_SERVING_LIMIT_MS;
  const servingChanged = () => {
    const accepting = serving.size - draining.size;
    options.onServingChange?.(accepting);
    if (accepting > 0 || !running || shuttingDown) {
      clearTimeout(noneServing);
      noneServing = undefined;
    } else {
      noneServing ??= setTimeout(() => {
        const error = new RuntimeError(
          'NO_WORKER_SERVING',
          `no worker has served for ${noWorkerLimitMs / 1000} s: the last one exited, and no replacement has served since`,
        );
        logger.error(error.message);
        options.onNoWorkerServing?.(error);
      }, noWorkerLimitMs);
    }
  };

  /** The pause before the slot's next replacement after a quick death; doubles the one after. */
  const nextPause = (slot: number) => {
    const pause = restartPauses.get(slot) ?? FIRST_RESTART_PAUSE_MS;
    restartPauses.set(slot, Math.min(pause * 2, MAX_RESTART_PAUSE_MS));
    return pause;
  };

  /**
   * Forks the worker of `slot` (1..workerCount); `served` resolves with its addresses once it
   * serves. The slot names the worker's audit log file: one writer per file.
   */
  const fork = (slot: number) => {
    const worker = forkWorker({
      [WORKER_ROLE_VARIABLE]: '1',
      [WORKER_SLOT_VARIABLE]: String(slot),
    });
    live.add(worker);
    let servedAt: number | undefined;
    /** `: <why>` of a worker whose start-up failed, as it said (StartFailedMessage). */
    let failure = '';
    let onServing: (addresses: WorkerAddresses) => void = () => undefined;
    const served = new Promise<WorkerAddresses>((resolve) => (onServing = resolve));
    // A send to a worker that has died but whose exit is not yet seen fails with EPIPE; unheard,
    // that 'error' would crash the primary (and every scrape or request it holds). Its exit follows.
    worker.on('error', (error) =>
      logger.warn({ worker: worker.id, err: error }, `cannot message worker ${worker.id}`),
    );
    worker.on('message', (message: unknown) => {
      options.onMessage?.(message, worker);
      if (isMessage(message, 'tsa:hello')) {
        if (shuttingDown) {
          // Forked before the drain began and loaded since: no setup (keys) for a worker that
          // would only be drained. It has no SIGTERM handler yet, and nothing in flight.
          worker.process.kill('SIGTERM');
          return;
        }
        listening.add(worker);
        worker.send(options.setup());
      } else if (isMessage(message, 'tsa:serving')) {
        serving.add(worker);
        servingChanged();
        servedAt = now();
        onServing({ url: message.url, ...(message.tlsUrl ? { tlsUrl: message.tlsUrl } : {}) });
      } else if (isMessage(message, 'tsa:draining') && serving.has(worker)) {
        draining.add(worker);
        servingChanged();
      } else if (isMessage(message, 'tsa:start-failed') && typeof message.reason === 'string') {
        failure = `: ${message.reason.slice(0, MAX_REASON_LENGTH)}`;
      }
    });
    worker.once('exit', (code, signal) => {
      options.onExit?.(worker);
      live.delete(worker);
      listening.delete(worker);
      // Drained on its own word (a SIGTERM sent to it), exited 0: told to stop, not a crash.
      const stoppedWhenTold = draining.delete(worker) && code === 0 && !signal;
      if (serving.delete(worker)) servingChanged();
      if (shuttingDown) return;
      if (!running) {
        // A worker failing while the server starts stops the start-up, one that already served
        // included: else the server would run one worker short, with nothing logged.
        failStart?.(
          new RuntimeError(
            'WORKER_EXITED_EARLY',
            servedAt === undefined
              ? `worker ${worker.id} exited with ${describeExit(code, signal)} before serving${failure}`
              : `worker ${worker.id} exited with ${describeExit(code, signal)} while the other workers were starting`,
          ),
        );
        return;
      }
      options.onUnexpectedExit?.();
      const stable = servedAt !== undefined && now() - servedAt >= STABLE_SERVING_MS;
      if (stable) restartPauses.delete(slot);
      const pause = stable ? 0 : nextPause(slot);
      const replacing = `starting a replacement${pause > 0 ? ` in ${pause / 1000} s` : ''}`;
      const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
      if (stoppedWhenTold) {
        logger.warn(
          fields,
          `worker ${worker.id} (pid ${worker.process.pid}) drained and exited when told to stop; ${replacing}`,
        );
      } else {
        logger.error(
          fields,
          `worker ${worker.id} (pid ${worker.process.pid}) exited with ${describeExit(code, signal)}${failure}; ${replacing}`,
        );
      }
      // Forked after this exit: the slot's file never has two writers.
      replaceAfter(slot, pause);
    });
    return { worker, served };
  };
  const replaceAfter = (slot: number, delayMs: number) => {
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!shuttingDown) replace(slot);
    }, delayMs);
    restartTimers.add(timer);
  };
  const replace = (slot: number) => {
    let forked;
    try {
      // cluster.fork throws at once when the OS refuses a process (EAGAIN, EMFILE): no exit follows.
      forked = fork(slot);
    } catch (error) {
      const pause = nextPause(slot);
      logger.error(
        { err: error },
        `cannot start a replacement worker: ${error instanceof Error ? error.message : String(error)}; trying again in ${pause / 1000} s`,
      );
      replaceAfter(slot, pause);
      return;
    }
    const { worker, served } = forked;
    // If it exits first, its exit handler logs it and tries again.
    void served.then(() =>
      logger.info(
        { worker: worker.id, workerPid: worker.process.pid },
        `worker ${worker.id} replaced`,
      ),
    );
  };

  return {
    listening,
    async start(signal) {
      if (signal?.aborted) throw startStoppedBySignal();
      const stopped = new Promise<never>((_, reject) => (failStart = reject));
      const onAbort = () => failStart?.(startStoppedBySignal());
      signal?.addEventListener('abort', onAbort);
      const started: ReturnType<typeof fork>[] = [];
      let addresses: WorkerAddresses;
      try {
        for (let slot = 1; slot <= options.workerCount; slot++) started.push(fork(slot));
        [addresses] = (await Promise.race([
          Promise.all(started.map(({ served }) => served)),
          stopped,
        ])) as [WorkerAddresses];
      } catch (error) {
        // SIGTERM ends a worker still starting at once, or, once its listener may accept, drains
        // it as soon as it has started (worker.ts). Those that serve are left to drain().
        for (const { worker } of started)
          if (live.has(worker) && !serving.has(worker)) worker.process.kill('SIGTERM');
        throw error;
      } finally {
        failStart = undefined;
        signal?.removeEventListener('abort', onAbort);
      }
      running = true;
      return addresses;
    },
    async drain() {
      shuttingDown = true;
      for (const worker of serving) draining.add(worker);
      servingChanged();
      restartTimers.forEach(clearTimeout);
      restartTimers.clear();
      // Only these count for the exit status: the others had nothing in flight.
      const drained = new Set(serving);
      const failures: string[] = [];
      await Promise.all(
        [...live].map(
          (worker) =>
            new Promise<void>((resolve) => {
              const { pid } = worker.process;
              const deadline = setTimeout(() => {
                logger.warn(`worker ${worker.id} did not exit after draining; killing it`);
                worker.process.kill('SIGKILL');
              }, options.gracefulTimeoutMs + EXIT_GRACE_MS);
              worker.once('exit', (code: number | null, signal: string | null) => {
                clearTimeout(deadline);
                const how = describeExit(code, signal);
                if (!drained.has(worker)) {
                  logger.info(
                    `worker ${worker.id} (pid ${pid}) was not serving; exited with ${how}`,
                  );
                } else if (code === 0 && !signal) {
                  logger.info(`worker ${worker.id} (pid ${pid}) drained and exited`);
                } else {
                  failures.push(`worker ${worker.id} (pid ${pid}) exited with ${how}`);
                  logger.error(
                    `worker ${worker.id} (pid ${pid}) exited with ${how} while draining`,
                  );
                }
                resolve();
              });
              // A worker that has not said hello may have no message listener yet: a drain message
              // would be lost, and it would go on to serve. It has no SIGTERM handler either.
              if (listening.has(worker) && worker.isConnected()) worker.send({ type: 'tsa:drain' });
              else worker.process.kill('SIGTERM');
            }),
        ),
      );
      if (failures.length > 0) {
        throw new RuntimeError(
          'WORKER_DRAIN_FAILED',
          `${failures.join('; ')} while draining: requests in flight may have been cut`,
        );
      }
    },
  };
}
