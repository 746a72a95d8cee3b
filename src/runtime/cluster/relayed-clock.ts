import {
  accuracyForBound,
  beyondThresholdDetail,
  currentBound,
  VERDICT_EXPIRED_DETAIL,
} from '../../clock/clock-bound.js';
import type { ClockStatus } from '../../clock/clock-monitor.js';
import { clockJumpDetail, WallClockStepDetector } from '../../clock/wall-clock-step.js';

const JUMP_CHECK_INTERVAL_MS = 1_000;

/**
 * A worker's view of the primary's NTP monitor, shaped like the monitor for the clock gate
 * (src/clock/clock-gate.ts), so a worker refuses exactly as the single process does. The wall
 * clock is also watched here, before each token as in the single process: a step beyond the
 * tolerance, or smaller steps adding up past the threshold from the offset the primary verified
 * (its status's `verified`), closes this worker's gate at once and asks the primary to re-verify;
 * the gate follows the primary again from the first round after that with a usable answer. Under
 * --accuracy auto the tokens declare the verified bound plus the steps seen here since and its
 * growth by PHI (clock-bound.ts). A synced status no round has followed within its lifetime (the
 * primary hung or gone) counts as none: unverified.
 */
export class RelayedClock {
  private relayed: ClockStatus = {
    state: 'unverified',
    detail: 'no clock status from the primary yet',
    rounds: 0,
  };
  /** The relayed status, with the accuracy this worker's own check gives under --accuracy auto. */
  private current: ClockStatus = this.relayed;
  /** Set by a step seen here; holds the gate closed until a later synced or drifted round. */
  private stepped: ClockStatus | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Asks the primary's monitor for a round now. */
    private readonly requestRound: () => void,
    private readonly step = new WallClockStepDetector(),
  ) {}

  get status(): ClockStatus {
    return this.stepped ?? this.current;
  }

  update(status: ClockStatus): void {
    this.relayed = status;
    this.current = status;
    // A later round re-verifies the step only with a usable answer (synced, or drifted): an
    // unverified one would let tokens through by default from a clock known to have moved.
    const measured = status.state !== 'unverified';
    if (this.stepped && measured && status.rounds > this.stepped.rounds) this.stepped = undefined;
  }

  checkForClockJump(): boolean {
    const stepMs = this.step.check();
    if (stepMs !== undefined) return this.closeUntilNextRound(clockJumpDetail(stepMs));
    return this.checkDivergence();
  }

  /**
   * While the relayed status is synced: adds how far the wall clock has moved from the offset the
   * primary verified, and PHI × the time since, to the bound measured then (O(1), before each
   * token), as the primary does. The primary sees the same steps only at its own next check, up
   * to a second later.
   */
  private checkDivergence(): boolean {
    const { verified } = this.relayed;
    if (this.stepped || !verified || this.relayed.state !== 'synced') return false;
    const nowMs = this.step.monotonic();
    if (nowMs > verified.expiresAtMs) {
      const { rounds } = this.relayed;
      const accuracyMs = verified.unmeasuredAccuracyMs;
      this.current = { state: 'unverified', detail: VERDICT_EXPIRED_DETAIL, rounds, accuracyMs };
      return false;
    }
    const bound = currentBound(verified, this.step.wallOffsetMs, nowMs);
    if (bound.boundMs > verified.thresholdMs) {
      return this.closeUntilNextRound(beyondThresholdDetail(verified, bound, 're-verifying'));
    }
    if (verified.declaresBound) {
      // Never tighter than the primary declares (it counts the same, at other instants).
      const accuracyMs = Math.max(accuracyForBound(bound.boundMs), this.relayed.accuracyMs ?? 0);
      if (accuracyMs !== this.current.accuracyMs) this.current = { ...this.relayed, accuracyMs };
    }
    return false;
  }

  private closeUntilNextRound(detail: string): true {
    this.stepped = { state: 'drifted', detail, rounds: this.relayed.rounds };
    this.requestRound();
    return true;
  }

  /** Checks every second between requests too, so the slew of an idle period never adds up. */
  start(): void {
    this.timer ??= setInterval(() => this.checkForClockJump(), JUMP_CHECK_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
