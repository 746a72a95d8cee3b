import type { TimestampAuthority } from '../tsp/authority.js';
import { createClockGate } from './clock-gate.js';
import { ClockMonitor, type ClockLogger, type ClockStatus } from './clock-monitor.js';
import { loadNtpConfig, toMonitorSettings } from './ntp-config.js';

export interface ClockOptions {
  /** --ntp-monitoring: the Go YAML; empty for the embedded default. */
  ntpMonitoring: string;
  /** --require-time-sync */
  requireTimeSync: boolean;
  /** The accuracy the tokens declare, in seconds. */
  accuracySeconds: number;
}

/** Loads the NTP configuration (an invalid one stops the start-up) and builds a monitor, not started. */
export async function createClockMonitor(
  options: Omit<ClockOptions, 'requireTimeSync'>,
  logger: ClockLogger,
  onStatus?: (status: ClockStatus) => void,
): Promise<ClockMonitor> {
  const config = await loadNtpConfig(options.ntpMonitoring);
  return new ClockMonitor({
    ...toMonitorSettings(config),
    accuracyMs: options.accuracySeconds * 1000,
    logger,
    ...(onStatus ? { onStatus } : {}),
  });
}

/**
 * Loads the NTP configuration (an invalid one stops the start-up), guards the authority with the
 * clock gate and starts the monitor. The caller stops it on close.
 */
export async function startClockMonitor(
  authority: TimestampAuthority,
  options: ClockOptions,
  logger: ClockLogger,
): Promise<ClockMonitor> {
  const monitor = await createClockMonitor(options, logger);
  authority.addGuard(createClockGate(monitor, { requireTimeSync: options.requireTimeSync }));
  monitor.start();
  return monitor;
}
