import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAST_CHECK_SEED } from '../../setup/fast-check-seed.js';

describe('the fixed fast-check seed', () => {
  it('is the global seed, so two samples of the same generator are the same inputs', () => {
    expect(fc.readConfigureGlobal().seed).toBe(FAST_CHECK_SEED);
    const draw = () => fc.sample(fc.uint8Array({ maxLength: 64 }), 20);
    expect(draw()).toEqual(draw());
  });
});
