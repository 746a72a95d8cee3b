import { describe, expect, it } from 'vitest';
import { createClockGate } from '../../../../src/clock/clock-gate.js';
import { WallClockStepDetector } from '../../../../src/clock/wall-clock-step.js';
import { RelayedClock } from '../../../../src/runtime/cluster/relayed-clock.js';

/** A worker's clock over hand-driven wall and monotonic clocks. */
function workerClock() {
  const time = { wall: 1_700_000_000_000, monotonic: 5_000 };
  let roundsRequested = 0;
  const clock = new RelayedClock(
    () => roundsRequested++,
    new WallClockStepDetector(
      250,
      () => time.wall,
      () => time.monotonic,
    ),
  );
  return { clock, time, roundsRequested: () => roundsRequested };
}

const synced = (rounds: number) => ({ state: 'synced' as const, detail: 'agree', rounds });

describe('a cluster worker clock gate (the primary relays the NTP status)', () => {
  it('refuses as the single-process gate does: drifted always, unverified only when required', () => {
    const { clock } = workerClock();
    const lenient = createClockGate(clock, { requireTimeSync: false });
    const strict = createClockGate(clock, { requireTimeSync: true });
    // Before the primary's first status: unverified.
    expect(lenient()).toBeUndefined();
    expect(strict()?.failInfo).toBe('timeNotAvailable');
    clock.update(synced(1));
    expect([lenient(), strict()]).toEqual([undefined, undefined]);
    clock.update({ state: 'drifted', detail: 'servers disagree', rounds: 2 });
    expect(lenient()?.detail).toBe('clock drifted: servers disagree');
    expect(strict()?.failInfo).toBe('timeNotAvailable');
  });

  it('a step of the wall clock closes the gate at once, until a round after the step is relayed', () => {
    const { clock, time, roundsRequested } = workerClock();
    const gate = createClockGate(clock, { requireTimeSync: false });
    clock.update(synced(3));
    time.wall += 1_000;
    time.monotonic += 1_000;
    expect(gate()).toBeUndefined();

    time.wall += 5_000; // the wall clock steps 5 s while 10 ms pass
    time.monotonic += 10;
    const refused = gate();
    expect(refused?.failInfo).toBe('timeNotAvailable');
    expect(refused?.detail).toBe(
      'clock drifted: local clock jumped by 4.99 s; re-verifying against NTP',
    );
    expect(roundsRequested()).toBe(1);
    // The primary's periodic resend of the round before the step does not reopen it...
    clock.update(synced(3));
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    // ...the next round does.
    clock.update(synced(4));
    expect(gate()).toBeUndefined();
    expect(roundsRequested()).toBe(1);
  });
});
