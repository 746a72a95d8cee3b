import { ClockMonitor, type ClockLogger, type ClockStatus } from '../clock/clock-monitor.js';
import { loadNtpConfig, toMonitorSettings } from '../clock/ntp-config.js';

export interface ClockOptions {
  /** --ntp-monitoring: the Go YAML; empty for the embedded default. */
  ntpMonitoring: string;
  /** The accuracy the tokens declare, in seconds. */
  accuracySeconds: number;
}

/** Loads the NTP configuration (an invalid one stops the start-up) and builds a monitor, not started. */
export async function createClockMonitor(
  options: ClockOptions,
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
