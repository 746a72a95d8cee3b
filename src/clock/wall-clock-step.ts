/** A step of the wall clock beyond this closes the clock gate (NTP step, date change, VM resume). */
export const DEFAULT_JUMP_TOLERANCE_MS = 250;

/** Seconds to 10 ms: finer would only show the jitter between the two clocks read. */
export const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`;

/**
 * Steps of up to this are not told apart from the two clocks' reading jitter (Date.now has whole
 * milliseconds): smaller ones are not remembered for `netSince`. The divergence from what was
 * verified compares the wall clock's offsets instead (`wallOffsetMs`), so they add up there.
 */
export const DIVERGENCE_NOISE_MS = 2;

/**
 * The system's monotonic clock in ms (CLOCK_MONOTONIC on Linux): unlike performance.now(), the same
 * in every process, so a cluster worker can compare the wall clock's offset from it with the
 * offset its primary verified. Both clocks are slewed alike; their difference moves only when the
 * wall clock steps.
 */
export const systemMonotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Steps remembered for `netSince`; the oldest are overwritten (a monitor that never verifies). */
const MAX_REMEMBERED_STEPS = 1000;

export const clockJumpDetail = (stepMs: number) =>
  `local clock jumped by ${seconds(stepMs)}; re-verifying against NTP`;

export const clockDivergenceDetail = (divergenceMs: number, thresholdMs: number) =>
  `local clock stepped by ${Math.round(divergenceMs)} ms in all since it was last verified, ` +
  `beyond ${seconds(thresholdMs)} with the bound measured then; re-verifying`;

/**
 * Compares how far the wall clock and the monotonic clock moved since the last check. Checked
 * often (every second and before each token), so the slew NTP applies never adds up to a step.
 * `check` and `wallOffsetMs` are O(1) and allocate nothing (they run before each token); the steps
 * are kept in a fixed ring for `netSince`/`backwardSince`, which a round's evaluation calls.
 */
export class WallClockStepDetector {
  private wallBase: number;
  private monotonicBase: number;
  /** The steps seen (beyond the noise, under the tolerance too): a ring, oldest overwritten. */
  private readonly stepAt = new Float64Array(MAX_REMEMBERED_STEPS);
  private readonly stepBy = new Float64Array(MAX_REMEMBERED_STEPS);
  /** Steps ever recorded (the ring holds the last MAX_REMEMBERED_STEPS of them). */
  private recorded = 0;

  constructor(
    private readonly toleranceMs = DEFAULT_JUMP_TOLERANCE_MS,
    private readonly now: () => number = Date.now,
    /** The monotonic clock it reads (ms): a worker's aging of a relayed bound reads it too. */
    readonly monotonic: () => number = systemMonotonicMs,
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
      const slot = this.recorded % MAX_REMEMBERED_STEPS;
      this.stepAt[slot] = monotonic;
      this.stepBy[slot] = stepMs;
      this.recorded++;
    }
    return Math.abs(stepMs) <= this.toleranceMs ? undefined : stepMs;
  }

  /** The wall clock minus the monotonic clock at the last check, in ms: it moves when the wall clock steps. */
  get wallOffsetMs(): number {
    return this.wallBase - this.monotonicBase;
  }

  /**
   * The net of the steps recorded after `monotonicMs`, in ms (signed). Only the last
   * MAX_REMEMBERED_STEPS steps are remembered.
   */
  netSince(monotonicMs: number): number {
    return this.sumSince(monotonicMs, (stepMs) => stepMs);
  }

  /** The sum of the backward steps recorded after `monotonicMs`, as a positive number of ms. */
  backwardSince(monotonicMs: number): number {
    return this.sumSince(monotonicMs, (stepMs) => Math.max(0, -stepMs));
  }

  private sumSince(monotonicMs: number, part: (stepMs: number) => number): number {
    let sum = 0;
    const oldest = Math.max(0, this.recorded - MAX_REMEMBERED_STEPS);
    for (let i = this.recorded - 1; i >= oldest; i--) {
      const slot = i % MAX_REMEMBERED_STEPS;
      if (this.stepAt[slot]! <= monotonicMs) break;
      sum += part(this.stepBy[slot]!);
    }
    return sum;
  }
}
