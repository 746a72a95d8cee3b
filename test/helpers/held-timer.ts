import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished, vi } from 'vitest';
import { tempDir } from './openssl.js';
import { REPO_ROOT } from './spawn-server.js';

/**
 * A deadline for the product under test that the test, not the machine's speed, lets fire: no
 * other timer in these tests is set for exactly 137 s (gax's own is 60 s, grpc-js's backoffs 1 s
 * to 120 s), so the timers set for it are the deadline's. Were one not held, it would still fire,
 * 137 s on, within the test's timeout.
 */
export const HELD_DEADLINE_MS = 137_000;

export interface HeldTimers {
  /** How many timers of the held delay were set so far. */
  count(): number;
  /** Lets the timers held so far fire (those not cleared); later ones are held until the next. */
  release(): void;
}

/**
 * Holds every setTimeout of exactly `delayMs` in this process until `release()`, for the rest of
 * the test: a product's deadline then fires once the test has seen what it waits for (a call at a
 * fake service), never before it on a slow machine. A held timer still keeps the process alive and
 * clearTimeout still cancels it; other timers are not touched.
 */
export function holdTimers(delayMs: number): HeldTimers {
  const realSetTimeout = globalThis.setTimeout;
  let count = 0;
  let released = 0;
  const held = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (ms !== delayMs) return realSetTimeout(callback, ms, ...args);
    const index = ++count;
    const timer = setInterval(() => {
      if (index > released) return;
      clearInterval(timer);
      callback(...args);
    }, 5);
    return timer;
  };
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(held as typeof setTimeout);
  onTestFinished(() => spy.mockRestore());
  return {
    count: () => count,
    release: () => {
      released = count;
    },
  };
}

const HOLD = pathToFileURL(join(REPO_ROOT, 'test', 'helpers', 'hold-timer.mjs')).href;

/**
 * holdTimers for a process the test spawns: the environment that preloads test/helpers/hold-timer.mjs
 * in it (through NODE_OPTIONS), and the same count and release. Its files are removed when the test
 * ends.
 */
export function heldTimerEnvironment(delayMs: number): HeldTimers & { env: NodeJS.ProcessEnv } {
  const dir = tempDir();
  onTestFinished(() => dir.cleanup());
  const marker = dir.path('held');
  const release = dir.path('release');
  const inherited = process.env['NODE_OPTIONS'];
  const count = () =>
    existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').length - 1 : 0;
  return {
    env: {
      NODE_OPTIONS: `${inherited ? `${inherited} ` : ''}--import=${HOLD}`,
      HOLD_TIMER_MS: String(delayMs),
      HOLD_TIMER_MARKER: marker,
      HOLD_TIMER_RELEASE: release,
    },
    count,
    release: () => writeFileSync(release, String(count())),
  };
}
