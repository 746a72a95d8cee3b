/**
 * What the test run sets for the servers it spawns (vitest.config.ts's `env`, and
 * childEnvironment's in test/helpers/process.ts, which removes every option variable the
 * developer's shell may hold): no NTP queries to the internet, and no fixed metrics port shared
 * between parallel tests. Tests of the clock and of the configuration set their own values.
 */
export const TEST_RUN_ENV = { DISABLE_NTP_MONITORING: 'true', METRICS_PORT: '0' } as const;
