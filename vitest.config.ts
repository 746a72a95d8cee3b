import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup/fast-check-seed.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Live-server and openssl tests spawn processes; two cores are all CI has.
    maxWorkers: 2,
    // Servers the tests spawn read these through the environment layer: no NTP queries to the
    // internet, and no fixed metrics port shared between parallel tests. Tests of the clock and of
    // the configuration set their own values.
    env: { DISABLE_NTP_MONITORING: 'true', METRICS_PORT: '0' },
  },
});
