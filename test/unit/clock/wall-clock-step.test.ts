import { describe, expect, it } from 'vitest';
import { WallClockStepDetector } from '../../../src/clock/wall-clock-step.js';

describe('WallClockStepDetector', () => {
  it('keeps a running net of the steps (O(1) per check), and the last 1000 for netSince', () => {
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
    expect(step(1)).toBeUndefined(); // within the noise: not a step
    expect(detector.netMs).toBe(60);
    expect(detector.netSince(10)).toBe(-40);
    expect(detector.backwardSince(0)).toBe(40);
    // 1500 more steps: the net keeps all of them, the ring the last 1000.
    for (let i = 0; i < 1500; i++) step(3);
    expect(detector.netMs).toBe(60 + 4500);
    expect(detector.netSince(t.mono - 10 * 1000)).toBe(3000);
    expect(detector.netSince(0)).toBe(3000);
  });
});
