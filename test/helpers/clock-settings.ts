import type { ClockMonitorSettings } from '../../src/clock/ntp-config.js';

/**
 * A ClockMonitor's settings for one server that the test answers through an injected `query`: one
 * attempt, no retry pause, a round an hour (rounds run by hand), the default 6 s and 1 s accuracy.
 * Tests spread it and override what they are about.
 */
export const ONE_SERVER_SETTINGS = {
  servers: [{ name: 'a', host: 'a', port: 123 }],
  numServers: 1,
  serverThreshold: 1,
  requestAttempts: 1,
  requestTimeoutMs: 1000,
  maxTimeDeltaMs: 6000,
  periodMs: 3_600_000,
  retryDelayMs: 0,
  accuracyMs: 1000,
} satisfies ClockMonitorSettings & { accuracyMs: number };
