/**
 * Options for `expect.poll` that wait for the awaited state however slow the machine is: vitest's
 * default gives up after 1 s, a deadline a loaded CI runner can miss. The test's own timeout
 * (vitest.config.ts) stays the guard against a hang.
 */
export const UNTIL_SETTLED = { timeout: 290_000, interval: 20 } as const;

/**
 * Resolves once `condition` holds, checking it every `everyMs`; no deadline of its own (the test's
 * timeout is the guard against a hang, so a slow machine only waits longer).
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}
