/** A step of the wall clock beyond this closes the clock gate (NTP step, date change, VM resume). */
export const DEFAULT_JUMP_TOLERANCE_MS = 250;

/** Seconds to 10 ms: finer would only show the jitter between the two clocks read. */
export const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`;

/**
 * Two readings of a steady clock's offset from the monotonic clock differ by less than this
 * (Date.now has whole milliseconds): the offsets remembered for `offsetAt` move by at least this,
 * so reading jitter never fills the ring. The divergence from what was verified compares the
 * offsets themselves, so steps of any size add up there.
 */
export const DIVERGENCE_NOISE_MS = 2;

/**
 * The system's monotonic clock in ms (CLOCK_MONOTONIC on Linux): unlike performance.now(), the same
 * in every process, so a cluster worker can compare the wall clock's offset from it with the
 * offset its primary verified. Both clocks are slewed alike; their difference moves only when the
 * wall clock steps.
 */
export const systemMonotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Offsets remembered for `offsetAt`, the oldest overwritten: a lookup reaches back to chronyd's
 * last update, at most 1024 s ago with chrony's default maxpoll, which this covers even if the
 * wall clock stepped by 2 ms or more four times a second throughout.
 */
const MAX_REMEMBERED_OFFSETS = 4096;

export const clockJumpDetail = (stepMs: number) =>
  `local clock jumped by ${seconds(stepMs)}; re-verifying against NTP`;

export const clockDivergenceDetail = (divergenceMs: number, thresholdMs: number) =>
  `local clock stepped by ${Math.round(divergenceMs)} ms in all since it was last verified, ` +
  `beyond ${seconds(thresholdMs)} with the bound measured then; re-verifying`;

/**
 * Compares how far the wall clock and the monotonic clock moved since the last check. Checked
 * often (every second and before each token), so the slew NTP applies never adds up to a step.
 * `check` and `wallOffsetMs` are O(1) and allocate nothing (they run before each token); the
 * offset's history is kept in a fixed ring for `offsetAt`/`highestOffsetSince`, which a chrony
 * reading's evaluation calls.
 */
export class WallClockStepDetector {
  private wallBase: number;
  private monotonicBase: number;
  /**
   * The wall clock's offset from the monotonic clock (`offsetOf`) at the checks (`offsetFrom`,
   * monotonic ms) where it had moved by DIVERGENCE_NOISE_MS or more from the last one remembered:
   * a ring, oldest overwritten. Between two entries it stayed within that of the earlier one.
   */
  private readonly offsetFrom = new Float64Array(MAX_REMEMBERED_OFFSETS);
  private readonly offsetOf = new Float64Array(MAX_REMEMBERED_OFFSETS);
  /** Offsets ever remembered (the ring holds the last MAX_REMEMBERED_OFFSETS of them). */
  private remembered = 0;

  constructor(
    private readonly toleranceMs = DEFAULT_JUMP_TOLERANCE_MS,
    private readonly now: () => number = Date.now,
    /** The monotonic clock it reads (ms): a worker's aging of a relayed bound reads it too. */
    readonly monotonic: () => number = systemMonotonicMs,
  ) {
    this.wallBase = now();
    this.monotonicBase = monotonic();
    this.remember(this.monotonicBase, this.wallOffsetMs);
  }

  /** The step since the last check in ms, when beyond the tolerance; otherwise undefined. */
  check(): number | undefined {
    const wall = this.now();
    const monotonic = this.monotonic();
    const stepMs = wall - this.wallBase - (monotonic - this.monotonicBase);
    this.wallBase = wall;
    this.monotonicBase = monotonic;
    // Compared with the last offset remembered, not the last reading: steps within the noise
    // add up until they are remembered.
    const offset = this.wallOffsetMs;
    if (Math.abs(offset - this.offsetOfEntry(this.remembered - 1)) >= DIVERGENCE_NOISE_MS) {
      this.remember(monotonic, offset);
    }
    return Math.abs(stepMs) <= this.toleranceMs ? undefined : stepMs;
  }

  /** The wall clock minus the monotonic clock at the last check, in ms: it moves when the wall clock steps. */
  get wallOffsetMs(): number {
    return this.wallBase - this.monotonicBase;
  }

  /**
   * The wall clock's offset from the monotonic clock at the monotonic instant `monotonicMs`, to
   * within DIVERGENCE_NOISE_MS: as of the last check at or before it that moved it. Before the
   * oldest offset remembered (the detector's start, or MAX_REMEMBERED_OFFSETS ago), that offset.
   */
  offsetAt(monotonicMs: number): number {
    return this.offsetOfEntry(this.indexAt(monotonicMs));
  }

  /** The highest offset the wall clock had from the monotonic instant `monotonicMs` until now. */
  highestOffsetSince(monotonicMs: number): number {
    let highest = this.wallOffsetMs;
    for (let i = this.indexAt(monotonicMs); i < this.remembered; i++) {
      highest = Math.max(highest, this.offsetOfEntry(i));
    }
    return highest;
  }

  private remember(monotonicMs: number, offsetMs: number): void {
    const slot = this.remembered % MAX_REMEMBERED_OFFSETS;
    this.offsetFrom[slot] = monotonicMs;
    this.offsetOf[slot] = offsetMs;
    this.remembered++;
  }

  private offsetOfEntry(index: number): number {
    return this.offsetOf[index % MAX_REMEMBERED_OFFSETS]!;
  }

  /** The index of the offset in force at `monotonicMs` (the oldest remembered, if before it). */
  private indexAt(monotonicMs: number): number {
    const oldest = Math.max(0, this.remembered - MAX_REMEMBERED_OFFSETS);
    let i = this.remembered - 1;
    while (i > oldest && this.offsetFrom[i % MAX_REMEMBERED_OFFSETS]! > monotonicMs) i--;
    return i;
  }
}
