import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createClockGate } from '../../../../src/clock/clock-gate.js';
import type { VerifiedClock } from '../../../../src/clock/clock-monitor.js';
import { WallClockStepDetector } from '../../../../src/clock/wall-clock-step.js';
import { RelayedClock } from '../../../../src/runtime/cluster/relayed-clock.js';
import { followClockStatus } from '../../../../src/runtime/cluster/worker.js';

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

  it('a later round without a usable answer does not reopen it: only a synced or drifted one', () => {
    const { clock, time } = workerClock();
    const gate = createClockGate(clock, { requireTimeSync: false });
    clock.update(synced(1));
    time.wall += 5_000;
    time.monotonic += 10;
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    clock.update({ state: 'unverified', detail: 'no answer', rounds: 2 });
    expect(gate()?.detail).toBe(
      'clock drifted: local clock jumped by 4.99 s; re-verifying against NTP',
    );
    clock.update({ state: 'drifted', detail: 'servers disagree', rounds: 3 });
    expect(gate()?.detail).toBe('clock drifted: servers disagree');
    clock.update(synced(4));
    expect(gate()).toBeUndefined();
  });
});

describe('a cluster worker checks the wall clock against what the primary verified', () => {
  /** A synced round whose evidence was measured with the wall clock `wallOffsetMs` ahead. */
  const verifiedRound = (rounds: number, verified: VerifiedClock, accuracyMs?: number) => ({
    ...synced(rounds),
    verified,
    ...(accuracyMs === undefined ? {} : { accuracyMs }),
  });
  /** Evidence measured now, good for an hour (the primary's period and more). */
  const measuredNow = (time: { wall: number; monotonic: number }) => ({
    wallOffsetMs: time.wall - time.monotonic,
    measuredAtMs: time.monotonic,
    expiresAtMs: time.monotonic + 3_600_000,
  });
  /** A step of `ms` under the 250 ms jump tolerance, 1 ms of monotonic time later. */
  const stepBy = (time: { wall: number; monotonic: number }, ms: number) => {
    time.wall += ms + 1;
    time.monotonic += 1;
  };

  it('closes at its next token when steps add up past the threshold, until a later round', () => {
    const { clock, time, roundsRequested } = workerClock();
    const gate = createClockGate(clock, { requireTimeSync: false });
    const anchor = { ...measuredNow(time), thresholdMs: 500, unmeasuredAccuracyMs: 500 };
    clock.update(verifiedRound(3, { ...anchor, boundMs: 100, declaresBound: false }, 500));
    stepBy(time, 200);
    expect(gate()).toBeUndefined();
    expect(clock.status.accuracyMs).toBe(500); // a fixed accuracy stays as relayed
    stepBy(time, 201);
    expect(gate()?.detail).toBe(
      'clock drifted: local clock stepped by 401 ms in all since it was last verified, beyond 0.5 s with the bound measured then; re-verifying',
    );
    expect(roundsRequested()).toBe(1);
    // The primary's resend of the same round does not reopen it; its next round does.
    clock.update(verifiedRound(3, { ...anchor, boundMs: 100, declaresBound: false }, 500));
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    clock.update(
      verifiedRound(4, { ...anchor, ...measuredNow(time), boundMs: 100, declaresBound: false }),
    );
    expect(gate()).toBeUndefined();
    expect(roundsRequested()).toBe(1);
  });

  it('under --accuracy auto declares the bound plus the steps since, never less than relayed', () => {
    const { clock, time } = workerClock();
    const gate = createClockGate(clock, { requireTimeSync: false });
    const verified = {
      ...measuredNow(time),
      thresholdMs: 1000,
      boundMs: 0.8,
      declaresBound: true,
      unmeasuredAccuracyMs: 1000,
    };
    clock.update(verifiedRound(1, verified, 1));
    stepBy(time, -100);
    expect(gate()).toBeUndefined();
    expect(clock.status.accuracyMs).toBe(102); // 0.8 + 100, rounded up, + 1 for genTime
    // The primary has counted more meanwhile: its figure stands.
    clock.update(verifiedRound(1, verified, 150));
    expect(gate()).toBeUndefined();
    expect(clock.status.accuracyMs).toBe(150);
  });

  it('widens the relayed bound by 15 ppm of its age, and takes an expired one for none', () => {
    const { clock, time } = workerClock();
    const strict = createClockGate(clock, { requireTimeSync: true });
    const verified = {
      ...measuredNow(time),
      expiresAtMs: time.monotonic + 71_000,
      thresholdMs: 1000,
      boundMs: 0.5,
      declaresBound: true,
      unmeasuredAccuracyMs: 1000,
    };
    clock.update(verifiedRound(1, verified, 1));
    const wait = (ms: number) => {
      time.wall += ms;
      time.monotonic += ms;
    };
    wait(70_000);
    expect(strict()).toBeUndefined();
    expect(clock.status.accuracyMs).toBe(3); // 0.5 + 1.05 ms, rounded up, + 1
    // The primary's resends of the same round (a hung round, say) do not keep it alive.
    wait(1_001);
    clock.update(verifiedRound(1, verified, 1));
    expect(strict()?.detail).toBe(
      'clock unverified: no clock check has completed within a period of the last synced one: its verdict has expired',
    );
    expect(clock.status.accuracyMs).toBe(1000);
    clock.update(verifiedRound(2, { ...verified, ...measuredNow(time) }, 1));
    expect(strict()).toBeUndefined();
  });
});

describe('the status a starting worker follows (followClockStatus)', () => {
  it('is the last to arrive: a round relayed just after the setup is not overwritten by the setup', () => {
    const { clock } = workerClock();
    const messages = new EventEmitter();
    followClockStatus(clock, messages);
    // The primary answers the hello, and a round ends at once: both arrive before the worker's
    // await of its setup resumes. Was: the setup's status applied after the await, over the newer.
    messages.emit('message', { type: 'tsa:setup', clock: synced(5) });
    messages.emit('message', {
      type: 'tsa:clock',
      status: { state: 'drifted', detail: 'servers disagree', rounds: 6 },
    });
    expect(clock.status).toMatchObject({ state: 'drifted', rounds: 6 });
    // A setup without a status (NTP monitoring off) leaves the clock alone.
    messages.emit('message', { type: 'tsa:setup' });
    expect(clock.status).toMatchObject({ state: 'drifted', rounds: 6 });
  });
});
