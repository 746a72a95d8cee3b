import type { ClockStatus } from '../../clock/clock-monitor.js';
import { clockJumpDetail, WallClockStepDetector } from '../../clock/wall-clock-step.js';

const JUMP_CHECK_INTERVAL_MS = 1_000;

/**
 * A worker's view of the primary's NTP monitor, shaped like the monitor for the clock gate
 * (src/clock/clock-gate.ts), so a worker refuses exactly as the single process does. Steps of the
 * wall clock are also watched here, before each token as in the single process: a step closes this
 * worker's gate at once and asks the primary to re-verify; the gate follows the primary again from
 * the first NTP round completed after the step.
 */
export class RelayedClock {
  private relayed: ClockStatus = {
    state: 'unverified',
    detail: 'no clock status from the primary yet',
    rounds: 0,
  };
  /** Set by a step seen here; holds the gate closed until a later round is relayed. */
  private stepped: ClockStatus | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Asks the primary's monitor for a round now. */
    private readonly requestRound: () => void,
    private readonly step = new WallClockStepDetector(),
  ) {}

  get status(): ClockStatus {
    return this.stepped ?? this.relayed;
  }

  update(status: ClockStatus): void {
    this.relayed = status;
    if (this.stepped && status.rounds > this.stepped.rounds) this.stepped = undefined;
  }

  checkForClockJump(): boolean {
    const stepMs = this.step.check();
    if (stepMs === undefined) return false;
    this.stepped = {
      state: 'drifted',
      detail: clockJumpDetail(stepMs),
      rounds: this.relayed.rounds,
    };
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
