import { performance } from 'node:perf_hooks';

/** A step of the wall clock beyond this closes the clock gate (NTP step, date change, VM resume). */
export const DEFAULT_JUMP_TOLERANCE_MS = 250;

/** Seconds to 10 ms: finer would only show the jitter between the two clocks read. */
export const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`;

/**
 * Steps of up to this are not told apart from the two clocks' reading jitter (Date.now has whole
 * milliseconds): smaller ones are not added to the divergence.
 */
export const DIVERGENCE_NOISE_MS = 2;

/** Steps remembered for the divergence; the oldest go first (a monitor that never verifies). */
const MAX_REMEMBERED_STEPS = 1000;

export const clockJumpDetail = (stepMs: number) =>
  `local clock jumped by ${seconds(stepMs)}; re-verifying against NTP`;

export const clockDivergenceDetail = (divergenceMs: number, thresholdMs: number) =>
  `local clock stepped by ${Math.round(divergenceMs)} ms in all since it was last verified, ` +
  `beyond ${seconds(thresholdMs)} with the bound measured then; re-verifying`;

/**
 * Compares how far the wall clock and the monotonic clock moved since the last check. Checked
 * often (every second and before each token), so the slew NTP applies never adds up to a step.
 */
export class WallClockStepDetector {
  private wallBase: number;
  private monotonicBase: number;
  /** The steps seen (beyond the noise, under the tolerance too), by monotonic time. */
  private steps: { monotonicMs: number; stepMs: number }[] = [];

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
    if (Math.abs(stepMs) > DIVERGENCE_NOISE_MS) {
      this.steps.push({ monotonicMs: monotonic, stepMs });
      if (this.steps.length > MAX_REMEMBERED_STEPS) this.steps.shift();
    }
    return Math.abs(stepMs) <= this.toleranceMs ? undefined : stepMs;
  }

  /**
   * How far the wall clock has moved against the monotonic clock since `monotonicMs` (the instant
   * of the last verification), in ms: the net of the steps seen since, small ones included. Steps
   * before that instant are forgotten.
   */
  divergenceSince(monotonicMs: number): number {
    while (this.steps.length > 0 && this.steps[0]!.monotonicMs <= monotonicMs) this.steps.shift();
    return Math.abs(this.steps.reduce((sum, { stepMs }) => sum + stepMs, 0));
  }
}
