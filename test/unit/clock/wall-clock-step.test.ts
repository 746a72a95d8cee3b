import { describe, expect, it } from 'vitest';
import { WallClockStepDetector } from '../../../src/clock/wall-clock-step.js';

describe('WallClockStepDetector', () => {
  /** A detector on injected clocks, the wall one 1 000 000 ms ahead of the monotonic one. */
  function detector() {
    const t = { wall: 1_000_000, mono: 0 };
    const steps = new WallClockStepDetector(
      250,
      () => t.wall,
      () => t.mono,
    );
    /** 10 ms pass on both clocks, the wall one also steps by `stepMs`; then a check. */
    const step = (stepMs: number) => {
      t.wall += 10 + stepMs;
      t.mono += 10;
      return steps.check();
    };
    return { t, steps, step };
  }

  it('reports a step beyond the tolerance only, and keeps every step in the offset', () => {
    const { steps, step } = detector();
    expect(step(100)).toBeUndefined();
    expect(step(-40)).toBeUndefined();
    expect(step(1)).toBeUndefined();
    expect(steps.wallOffsetMs).toBe(1_000_000 + 61);
    expect(step(-251)).toBe(-251);
  });

  it('remembers the offset over time: steps within the 2 ms noise add up to one it remembers', () => {
    const { t, steps, step } = detector();
    step(100); // at 10 ms
    step(-40); // at 20 ms
    for (let i = 0; i < 300; i++) step(1); // from 30 ms: +1 ms each, 300 ms in all
    expect(steps.wallOffsetMs).toBe(1_000_000 + 360);
    expect(steps.offsetAt(5)).toBe(1_000_000); // before the first step
    expect(steps.offsetAt(-1e9)).toBe(1_000_000); // before the start: the start's
    expect(steps.offsetAt(10)).toBe(1_000_000 + 100);
    expect(steps.offsetAt(25)).toBe(1_000_000 + 60);
    // Remembered each second +1 ms (two of them): within 2 ms of the offset at any instant.
    expect(steps.offsetAt(t.mono)).toBe(1_000_000 + 360);
    expect(Math.abs(steps.offsetAt(1_530) - (1_000_000 + 210))).toBeLessThan(2);
    expect(steps.highestOffsetSince(-Infinity)).toBe(1_000_000 + 360);
    expect(steps.highestOffsetSince(15)).toBe(1_000_000 + 360);
  });

  it('finds the highest offset since an instant, a backward step after it included', () => {
    const { t, steps, step } = detector();
    step(200); // at 10 ms
    step(-150); // at 20 ms
    step(-100); // at 30 ms
    expect(steps.wallOffsetMs).toBe(1_000_000 - 50);
    expect(steps.highestOffsetSince(0)).toBe(1_000_000 + 200);
    expect(steps.highestOffsetSince(15)).toBe(1_000_000 + 200); // in force at 15 ms
    expect(steps.highestOffsetSince(20)).toBe(1_000_000 + 50);
    expect(steps.highestOffsetSince(t.mono)).toBe(1_000_000 - 50);
  });

  it('reading jitter fills no memory; the oldest of 4096 remembered offsets stands for before', () => {
    const { t, steps, step } = detector();
    // A steady clock read with whole-ms wall readings: the offset wobbles by under 1 ms.
    for (let i = 0; i < 10_000; i++) {
      t.wall = Math.floor(1_000_000 + t.mono + 0.7);
      t.mono += 0.3;
      steps.check();
    }
    const jittered = steps.wallOffsetMs;
    expect(Math.abs(jittered - 1_000_000)).toBeLessThan(1);
    // 4095 steps of +3 ms and the start's offset fill the ring, had the jitter taken no room...
    for (let i = 0; i < 4095; i++) step(3);
    expect(steps.offsetAt(0)).toBe(1_000_000);
    expect(steps.offsetAt(t.mono - 10 * 1000 - 5)).toBe(steps.wallOffsetMs - 3 * 1001);
    // ...and one more overwrites the start's: the oldest remembered stands for the time before.
    step(3);
    expect(steps.offsetAt(0)).toBe(jittered + 3);
  });
});
