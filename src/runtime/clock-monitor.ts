import { ClockMonitor, type ClockLogger, type ClockStatus } from '../clock/clock-monitor.js';
import { loadNtpConfig, toMonitorSettings } from '../clock/ntp-config.js';
import { parseAccuracy } from '../config/accuracy.js';
import { genTimeErrorMs } from '../tsp/gen-time.js';
import type { ServeConfig } from '../config/schema.js';

export interface ClockOptions {
  /** --ntp-monitoring: the Go YAML; empty for the embedded default. */
  ntpMonitoring: string;
  /** The accuracy the tokens declare, in ms, or 'auto' (--accuracy). */
  accuracyMs: number | 'auto';
  /**
   * The smallest accuracy a named profile's tokens declare (config file `profiles:`), in ms: the
   * gate holds the clock to it too, whatever --accuracy says.
   */
  profileAccuracyMs?: number;
  /** --time-source: chrony reads chronyd at `chronySocket` instead of asking the YAML's servers. */
  timeSource?: 'sntp' | 'chrony';
  chronySocket?: string;
  requireNts?: boolean;
  /** --require-time-sync (or --require-nts): an unverified clock refuses issuance too. */
  requireTimeSync?: boolean;
}

/**
 * Whether an unverified clock refuses issuance: --require-time-sync, or --require-nts, which
 * implies it (see docs/clock.md).
 */
export const requireTimeSync = (config: Pick<ServeConfig, 'requireTimeSync' | 'requireNts'>) =>
  config.requireTimeSync || config.requireNts;

/** The clock options of a resolved configuration. */
export function clockOptionsFrom(
  config: Pick<
    ServeConfig,
    | 'ntpMonitoring'
    | 'accuracy'
    | 'timeSource'
    | 'chronySocket'
    | 'requireNts'
    | 'requireTimeSync'
    | 'profiles'
  >,
): ClockOptions {
  const profiles = config.profiles ?? [];
  return {
    ntpMonitoring: config.ntpMonitoring,
    accuracyMs: parseAccuracy(config.accuracy),
    ...(profiles.length > 0
      ? {
          profileAccuracyMs: Math.min(...profiles.map((profile) => profile.accuracySeconds * 1000)),
        }
      : {}),
    timeSource: config.timeSource,
    chronySocket: config.chronySocket,
    requireNts: config.requireNts,
    requireTimeSync: requireTimeSync(config),
  };
}

/** How far a profile's tokens let the clock be off: their accuracy less genTime's rounding. */
function profileBoundMs(profileAccuracyMs: number | undefined): number {
  if (profileAccuracyMs === undefined) return Infinity;
  return profileAccuracyMs - genTimeErrorMs(profileAccuracyMs);
}

/** Loads the NTP configuration (an invalid one stops the start-up) and builds a monitor, not started. */
export async function createClockMonitor(
  options: ClockOptions,
  logger: ClockLogger,
  onStatus?: (status: ClockStatus) => void,
): Promise<ClockMonitor> {
  // With chrony, the YAML still gives the period, the threshold (max_time_delta) and the
  // timeout of one reading (request_timeout); its servers are chronyd's business.
  const config = await loadNtpConfig(options.ntpMonitoring, options.timeSource !== 'chrony');
  const settings = toMonitorSettings(config);
  return new ClockMonitor({
    ...settings,
    // Every token must be able to stand behind the accuracy it declares: a profile's as well
    // (under --accuracy auto too, where the threshold is max_time_delta), less the rounding of
    // its genTime (whole seconds for a profile's whole-second accuracy: tsp/gen-time.ts).
    maxTimeDeltaMs: Math.min(settings.maxTimeDeltaMs, profileBoundMs(options.profileAccuracyMs)),
    accuracyMs: options.accuracyMs,
    ...(options.timeSource === 'chrony'
      ? {
          chrony: {
            socket: options.chronySocket ?? '/run/chrony/chronyd.sock',
            requireNts: options.requireNts ?? false,
          },
        }
      : {}),
    unverifiedRefuses: options.requireTimeSync ?? false,
    logger,
    ...(onStatus ? { onStatus } : {}),
  });
}
