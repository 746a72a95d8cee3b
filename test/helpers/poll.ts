/**
 * Options for `expect.poll` that wait for the awaited state however slow the machine is: vitest's
 * default gives up after 1 s, a deadline a loaded CI runner can miss. The test's own timeout
 * (vitest.config.ts) stays the guard against a hang.
 */
export const UNTIL_SETTLED = { timeout: 290_000, interval: 20 } as const;
