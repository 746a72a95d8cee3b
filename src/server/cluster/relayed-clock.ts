import type { ClockStatus } from '../../clock/clock-monitor.js';

/**
 * A worker's view of the primary's NTP monitor, shaped like the monitor for the clock gate
 * (src/clock/clock-gate.ts), so a worker refuses exactly as the single process does.
 */
export class RelayedClock {
  private current: ClockStatus;

  constructor(initial?: ClockStatus) {
    this.current = initial ?? {
      state: 'unverified',
      detail: 'no clock status from the primary yet',
      rounds: 0,
    };
  }

  get status(): ClockStatus {
    return this.current;
  }

  update(status: ClockStatus): void {
    this.current = status;
  }

  /**
   * Steps of the wall clock are watched by the primary's monitor (every second), which closes the
   * gate and relays it; a worker does not detect them itself.
   */
  checkForClockJump(): boolean {
    return false;
  }
}
