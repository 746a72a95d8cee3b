import { describe, expect, it } from 'vitest';
import { WallClockStepDetector } from '../../../src/clock/wall-clock-step.js';

describe('WallClockStepDetector', () => {
  it('remembers the last 1000 steps beyond the noise for netSince; the offset keeps every step', () => {
    const t = { wall: 1_000_000, mono: 0 };
    const detector = new WallClockStepDetector(
      250,
      () => t.wall,
      () => t.mono,
    );
    const step = (stepMs: number) => {
      t.wall += 10 + stepMs;
      t.mono += 10;
      return detector.check();
    };
    expect(step(100)).toBeUndefined();
    expect(step(-40)).toBeUndefined();
    expect(step(1)).toBeUndefined(); // within the noise: not remembered as a step...
    expect(detector.wallOffsetMs).toBe(1_000_000 + 61); // ...but the offset moved by it
    expect(detector.netSince(0)).toBe(60);
    expect(detector.netSince(10)).toBe(-40);
    expect(detector.backwardSince(0)).toBe(40);
    // 1500 more steps: the offset has all of them, the ring the last 1000.
    for (let i = 0; i < 1500; i++) step(3);
    expect(detector.wallOffsetMs).toBe(1_000_000 + 61 + 4500);
    expect(detector.netSince(t.mono - 10 * 1000)).toBe(3000);
    expect(detector.netSince(0)).toBe(3000);
  });
});
