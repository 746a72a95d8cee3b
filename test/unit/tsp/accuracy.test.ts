import { describe, expect, it } from 'vitest';
import { encodeAccuracy } from '../../../src/tsp/token-encoder.js';

const hex = (ms: number) => encodeAccuracy(ms).toString('hex');

describe('encodeAccuracy (RFC 3161 Accuracy, whole milliseconds rounded up)', () => {
  it('encodes seconds, millis [0] or both; zero fields are left out', () => {
    expect(hex(1000)).toBe('3003020101');
    expect(hex(1)).toBe('3003800101');
    expect(hex(1500)).toBe('3007020101800201f4');
    expect(hex(999)).toBe('3004800203e7');
    expect(hex(120_000)).toBe('3003020178');
  });

  it('never declares tighter than measured: fractions round up, and zero is 1 ms', () => {
    expect(hex(0.01)).toBe(hex(1));
    expect(hex(0)).toBe(hex(1));
    expect(hex(1234.5)).toBe(hex(1235));
  });
});
