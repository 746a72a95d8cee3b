import { RuntimeError, startStoppedBySignal } from '../runtime/runtime-error.js';
import { errorLine, exitStatusOf } from './exit-status.js';
import { stoppedStatus, takeOverStopSignals, type StopSignal } from './held-signals.js';

export { stoppedStatus, type StopSignal };

/** What `serve` runs: the single process or the cluster primary, once started. */
export interface Stoppable {
  /** Graceful: drains, then resolves; rejects when the shutdown failed. */
  close(): Promise<void>;
  /**
   * Resolves with the reason if the server can no longer serve (a cluster whose workers all died
   * and stay down): the process then shuts it down and exits 1, for its orchestrator to restart it.
   */
  failed?: Promise<Error>;
}

/** The logger calls the lifecycle makes (pino's). */
export interface LifecycleLogger {
  info(message: string): void;
  error(fields: object, message: string): void;
  fatal(message: string): void;
  debug(fields: object, message: string): void;
  flush?: () => void;
}

export interface LifecycleOptions {
  logger: LifecycleLogger;
  /** --graceful-timeout in ms, for the log line. */
  gracefulTimeoutMs: number;
  /** Where SIGTERM and SIGINT come from: the process (tests give an emitter). */
  signals?: Pick<NodeJS.EventEmitter, 'on'>;
  /** Ends the process at once (process.exit; tests record it). */
  exit?: (code: number) => void;
  /**
   * Called once this lifecycle's handlers are in place: removes those that held SIGTERM and SIGINT
   * until then and returns the first signal they got (held-signals.ts, the executable entry's).
   */
  takeOver?: () => StopSignal | undefined;
}

/**
 * Runs `serve` from its first moment to its exit, with SIGTERM and SIGINT handled before anything
 * starts: as PID 1 in a container a signal without a handler is ignored, and elsewhere it kills
 * without a teardown.
 *
 * - Signalled while starting: logs `received SIGTERM while starting` and aborts `start`'s signal.
 *   If the start-up ends by stopping, the process exits 128 + the signal's number (143, 130): it
 *   never served. If it starts all the same, it drains at once (exit 0, or 1 if that fails).
 *   A signal held before (while the modules loaded: `takeOver`) is one received while starting,
 *   before anything started: `start` is not called.
 * - Signalled while serving: drains; exit 0, or 1 when the shutdown failed (`shutdown failed`).
 *   A second signal during the drain is logged and waits for it.
 * - Failed while serving (`failed`): logs `cannot serve: ...`, drains, exits 1.
 * - A start-up failure is logged (`cannot start: ...`); the returned status is the exit status
 *   the caller sets (the process then ends by itself).
 */
export async function serveUntilSignalled(
  start: (signal: AbortSignal) => Promise<Stoppable>,
  options: LifecycleOptions,
): Promise<number | undefined> {
  const {
    logger,
    signals = process,
    exit = (code: number) => process.exit(code),
    takeOver = takeOverStopSignals,
  } = options;
  const stopStart = new AbortController();
  let server: Stoppable | undefined;
  /** The signal received while starting. */
  let stopping: StopSignal | undefined;
  let draining = false;

  /** Drains, then exits with `status` (1 if the shutdown fails). */
  const drainAndExit = (status: number) => {
    draining = true;
    (server as Stoppable).close().then(
      () => {
        logger.info('shut down');
        logger.flush?.();
        exit(status);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush?.();
        exit(1);
      },
    );
  };
  const shutdown = (signal: StopSignal, line: string) => {
    // A later SIGTERM/SIGINT waits for the drain under way: the first signal's handler exits once
    // it ends; the orchestrator's SIGKILL is the forced quit.
    if (draining) {
      logger.info(`received ${signal}, a drain is already under way: waiting for it to end`);
      return;
    }
    logger.info(line);
    drainAndExit(0);
  };
  const drainLine = (signal: StopSignal) =>
    `received ${signal}, draining: in-flight requests have ${options.gracefulTimeoutMs} ms to finish`;
  const onSignal = (signal: StopSignal) => {
    if (server) return shutdown(signal, drainLine(signal));
    if (stopping) {
      logger.info(`received ${signal} while stopping the start-up: waiting for it to end`);
      return;
    }
    stopping = signal;
    logger.info(`received ${signal} while starting: stopping the start-up`);
    // The reason is what a start-up that waits on the signal rejects with (untilAborted).
    stopStart.abort(startStoppedBySignal());
  };
  // on, not once: a second signal with no listener would end the process mid-drain.
  signals.on('SIGTERM', () => onSignal('SIGTERM'));
  signals.on('SIGINT', () => onSignal('SIGINT'));
  // Only now, with ours in place: no moment without a handler.
  const held = takeOver();
  if (held) onSignal(held);

  try {
    // Stopped before it began (a held signal): nothing to start.
    server = await (stopStart.signal.aborted
      ? Promise.reject(stopStart.signal.reason as Error)
      : start(stopStart.signal));
  } catch (error) {
    if (stopping) {
      if (!(error instanceof RuntimeError && error.code === 'START_STOPPED')) {
        logger.info(`the start-up ended with: ${errorLine(error)}`);
      }
      const status = stoppedStatus(stopping);
      logger.info(`start-up stopped by ${stopping}: exiting with ${status}`);
      logger.flush?.();
      exit(status);
      return status;
    }
    // One clear line; the stack only at debug level.
    logger.fatal(`cannot start: ${errorLine(error)}`);
    logger.debug({ err: error }, 'start-up failure');
    logger.flush?.();
    return exitStatusOf(error);
  }
  void (server as Stoppable).failed?.then((error) => {
    // A drain under way (a signal came first) ends as it would have.
    if (draining) return;
    logger.fatal(`cannot serve: ${errorLine(error)}; draining, then exiting with 1`);
    drainAndExit(1);
  });
  if (stopping) shutdown(stopping, `started after ${stopping}: draining at once`);
  return undefined;
}
