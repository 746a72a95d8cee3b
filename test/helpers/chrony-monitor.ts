import type { ChronyReading } from '../../src/clock/chrony-client.js';
import { ClockMonitor, type ClockLogger } from '../../src/clock/clock-monitor.js';

export interface ChronyMonitorOptions {
  accuracyMs: number | 'auto';
  requireNts?: boolean;
  /** The threshold (--ntp-monitoring's max_time_delta); default 2 s. */
  maxTimeDeltaMs?: number;
  /** Default an hour: rounds run when the test calls runRound. */
  periodMs?: number;
  /** Injected clocks; default the real ones. */
  clocks?: { now?: () => number; monotonic?: () => number };
}

/**
 * A ClockMonitor on chronyd (--time-source chrony) whose readings come from `read` (no chronyc,
 * no NTP servers), and what it logs (info, warn and error lines).
 */
export function chronyMonitorOn(
  read: () => Promise<ChronyReading>,
  {
    accuracyMs,
    requireNts = false,
    maxTimeDeltaMs = 2000,
    periodMs = 3_600_000,
    clocks = {},
  }: ChronyMonitorOptions,
) {
  const lines: { level: string; fields: object; message: string }[] = [];
  const log = (level: string) => (fields: object, message: string) =>
    lines.push({ level, fields, message });
  const logger: ClockLogger = {
    debug: () => {},
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  const monitor = new ClockMonitor({
    servers: [],
    numServers: 0,
    serverThreshold: 0,
    requestAttempts: 0,
    requestTimeoutMs: 1000,
    maxTimeDeltaMs,
    periodMs,
    retryDelayMs: 0,
    accuracyMs,
    chrony: { socket: '/run/test/chronyd.sock', requireNts, read },
    logger,
    ...clocks,
  });
  return { monitor, lines };
}
