// Preloaded with `node --import` (held-timer.ts heldTimerEnvironment): holds every setTimeout of
// exactly $HOLD_TIMER_MS ms, appending a line to the file $HOLD_TIMER_MARKER for each; the file
// $HOLD_TIMER_RELEASE, once it exists, says how many of them (the first n) may fire. A held timer
// still keeps the process alive, and clearTimeout still cancels it; once released it fires as it
// would have. Other timers are Node's.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { promisify } from 'node:util';

const { HOLD_TIMER_MS, HOLD_TIMER_MARKER, HOLD_TIMER_RELEASE } = process.env;
const heldMs = Number(HOLD_TIMER_MS);
const realSetTimeout = globalThis.setTimeout;
let held = 0;

function setTimeout(callback, ms, ...args) {
  if (ms !== heldMs || !HOLD_TIMER_MARKER || !HOLD_TIMER_RELEASE) {
    return realSetTimeout(callback, ms, ...args);
  }
  const index = ++held;
  appendFileSync(HOLD_TIMER_MARKER, `${ms}\n`);
  const timer = setInterval(() => {
    if (!existsSync(HOLD_TIMER_RELEASE)) return;
    if (Number(readFileSync(HOLD_TIMER_RELEASE, 'utf8')) < index) return;
    clearInterval(timer);
    callback(...args);
  }, 5);
  return timer;
}
Object.defineProperty(setTimeout, promisify.custom, { value: realSetTimeout[promisify.custom] });
globalThis.setTimeout = setTimeout;
