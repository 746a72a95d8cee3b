import { performance } from 'node:perf_hooks';

/** A step of the wall clock beyond this closes the clock gate (NTP step, date change, VM resume). */
export const DEFAULT_JUMP_TOLERANCE_MS = 250;

/** Seconds to 10 ms: finer would only show the jitter between the two clocks read. */
export const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`;

export const clockJumpDetail = (stepMs: number) =>
  `local clock jumped by ${seconds(stepMs)}; re-verifying against NTP`;

/**
 * Compares how far the wall clock and the monotonic clock moved since the last check. Checked
 * often (every second and before each token), so the slew NTP applies never adds up to a step.
 */
export class WallClockStepDetector {
  private wallBase: number;
  private monotonicBase: number;

  constructor(
    private readonly toleranceMs = DEFAULT_JUMP_TOLERANCE_MS,
    private readonly now: () => number = Date.now,
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.wallBase = now();
    this.monotonicBase = monotonic();
  }

  /** The step since the last check in ms, when beyond the tolerance; otherwise undefined. */
  check(): number | undefined {
    const wall = this.now();
    const monotonic = this.monotonic();
    const stepMs = wall - this.wallBase - (monotonic - this.monotonicBase);
    this.wallBase = wall;
    this.monotonicBase = monotonic;
    return Math.abs(stepMs) <= this.toleranceMs ? undefined : stepMs;
  }
}
