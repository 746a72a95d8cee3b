import cluster from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { ClockMonitor, ClockStatus } from '../../clock/clock-monitor.js';
import { createClockMonitor } from '../clock-monitor.js';
import type { ClockMessage } from './messages.js';

/** The clock status is also resent this often, so a lost or late message heals by itself. */
const CLOCK_RELAY_INTERVAL_MS = 5_000;

/**
 * The primary's one NTP monitor, relayed to every worker: at each new status and every
 * CLOCK_RELAY_INTERVAL_MS. Workers gate issuance on the status they last received.
 */
export interface ClockRelay {
  /** The monitor's status now, for the setup of a worker that just started. */
  readonly status: ClockStatus;
  /** Starts the monitor and the periodic resend. */
  start(): void;
  /**
   * A worker saw the wall clock step: the monitor's own check catches it (and re-runs a round),
   * unless it already did; then a new round reopens that worker's gate.
   */
  clockJumped(): void;
  /** Stops the periodic resend (the workers are about to drain). */
  stopResending(): void;
  /** Stops resending and the monitor. */
  stop(): Promise<void>;
}

/** Loads the NTP configuration (an invalid one stops the start-up) and builds the relay. */
export async function createClockRelay(
  options: Parameters<typeof createClockMonitor>[0],
  logger: FastifyBaseLogger,
): Promise<ClockRelay> {
  const relay = (status: ClockStatus) => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send({ type: 'tsa:clock', status } satisfies ClockMessage);
    }
  };
  const clock: ClockMonitor = await createClockMonitor(options, logger, relay);
  let timer: NodeJS.Timeout | undefined;
  return {
    get status() {
      return clock.status;
    },
    start() {
      clock.start();
      timer = setInterval(() => relay(clock.status), CLOCK_RELAY_INTERVAL_MS).unref();
    },
    clockJumped() {
      if (!clock.checkForClockJump()) clock.runRound().catch(() => {});
    },
    stopResending() {
      clearInterval(timer);
    },
    async stop() {
      clearInterval(timer);
      await clock.stop();
    },
  };
}
