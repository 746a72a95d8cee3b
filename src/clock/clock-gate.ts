import type { IssuanceGuard } from '../tsp/guards.js';
import { reject } from '../tsp/rejection.js';
import type { ClockMonitor } from './clock-monitor.js';

export interface ClockGateOptions {
  /** Refuse while unverified too (--require-time-sync, the ETSI EN 319 421 behaviour). */
  requireTimeSync: boolean;
}

/**
 * The issuance guard of the clock: closed (a timeNotAvailable refusal) while drifted, and while
 * unverified in strict mode. Each call also checks for a step of the wall clock, so a jump
 * closes the gate before the very next token, not at the next watchdog tick.
 */
export function createClockGate(
  monitor: Pick<ClockMonitor, 'status' | 'checkForClockJump'>,
  options: ClockGateOptions,
): IssuanceGuard {
  return () => {
    monitor.checkForClockJump();
    const { state, detail } = monitor.status;
    if (state === 'drifted' || (state === 'unverified' && options.requireTimeSync)) {
      return reject.timeNotAvailable(`clock ${state}: ${detail}`);
    }
    return undefined;
  };
}
