// Preloaded with `node --import` in a timestamp-cli a test spawns (as
// test/e2e/cli/cli-http-client.test.ts does): undici's clock runs fast, and how far it got is written down.
//
// undici keeps the time of its own deadlines (connecting, the headers, the body, keep-alive) on a
// clock of its own, which a 499 ms timer advances by 499 ms at each tick whatever the real time
// (undici/lib/util/timers.js, TICK_MS). Here a timer of exactly 499 ms fires after 1 ms instead,
// and the file $FAST_UNDICI_CLOCK_TICKS holds the most ticks any one such timer has made (one per
// undici instance: the package's, and Node's own behind the global fetch): past 602 ticks, 300 s
// (undici's default headers and body deadline) have passed on that clock. A fast timer set on the
// package's clock keeps it ticking while undici has no deadline of its own pending.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { promisify } from 'node:util';

const TICK_MS = 499;
const { FAST_UNDICI_CLOCK_TICKS } = process.env;
const realSetTimeout = globalThis.setTimeout;
let most = 0;

function setTimeout(callback, ms, ...args) {
  if (ms !== TICK_MS || !FAST_UNDICI_CLOCK_TICKS) return realSetTimeout(callback, ms, ...args);
  let ticks = 0;
  // refresh() re-arms the same timer (1 ms) and calls the same function: each call is a tick.
  return realSetTimeout(() => {
    ticks += 1;
    if (ticks > most) {
      most = ticks;
      writeFileSync(FAST_UNDICI_CLOCK_TICKS, String(most));
    }
    callback(...args);
  }, 1);
}
Object.defineProperty(setTimeout, promisify.custom, { value: realSetTimeout[promisify.custom] });
globalThis.setTimeout = setTimeout;

if (FAST_UNDICI_CLOCK_TICKS) {
  // The module undici's own files load: one instance, so one clock, with the CLI's.
  const timers = createRequire(import.meta.url)('undici/lib/util/timers.js');
  timers.setFastTimeout(() => {}, 2 ** 31 - 1);
}
