import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SerialNumberSet } from '../../../src/cli/timestamp-cli/serial-number-set.js';

const MAX_160 = (1n << 160n) - 1n;

/** A seeded generator (mulberry32): the same serial numbers on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('SerialNumberSet (log-audit: each serial number once)', () => {
  it('answers as a Map of the first entry of each serial number, for every kind of serial', () => {
    const next = random(3161);
    const word = () => BigInt(Math.floor(next() * 2 ** 32));
    // The serial numbers TSAs issue (160 random bits, counters, 64-bit values), the edges of the
    // five words, one word set alone, and what a hostile log might carry (negative, too long).
    const draw: (() => bigint)[] = [
      () => BigInt(`0x${randomBytes(20).toString('hex')}`),
      () => BigInt(Math.floor(next() * 5000)),
      () => (word() << 32n) | word(),
      () => word() << (32n * BigInt(Math.floor(next() * 5))),
      () =>
        [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, MAX_160, MAX_160 + 1n, -1n, -(2n ** 200n)][
          Math.floor(next() * 8)
        ] as bigint,
      () => MAX_160 + 1n + BigInt(Math.floor(next() * 100)),
      () => -BigInt(Math.floor(next() * 100)),
    ];
    const set = new SerialNumberSet();
    const reference = new Map<bigint, number>();
    const seen: bigint[] = [];
    let repeats = 0;
    for (let index = 0; index < 60_000; index++) {
      // One in five is a serial number drawn before.
      const serial =
        seen.length > 0 && next() < 0.2
          ? (seen[Math.floor(next() * seen.length)] as bigint)
          : (draw[Math.floor(next() * draw.length)] as () => bigint)();
      seen.push(serial);
      const earlier = reference.get(serial);
      if (earlier === undefined) reference.set(serial, index);
      else repeats++;
      expect(set.add(serial, index)).toBe(earlier);
    }
    expect(set.size).toBe(reference.size);
    // Enough of each outcome that the comparison says something.
    expect(repeats).toBeGreaterThan(10_000);
    expect(reference.size).toBeGreaterThan(20_000);
  });

  it('keeps a counter TSA’s serial numbers apart through every growth, each with its entry', () => {
    const set = new SerialNumberSet();
    const count = 200_000;
    for (let index = 0; index < count; index++)
      expect(set.add(BigInt(index), index)).toBeUndefined();
    expect(set.size).toBe(count);
    // Entry indexes past 2^32, as a log grows: held exactly (a Float64Array holds 2^53).
    const late = 2 ** 40 + 7;
    expect(set.add(MAX_160, late)).toBeUndefined();
    for (let serial = 0; serial < count; serial += 997)
      expect(set.add(BigInt(serial), count + serial)).toBe(serial);
    expect(set.add(MAX_160, 0)).toBe(late);
    expect(set.size).toBe(count + 1);
  });

  it('tells serial numbers apart that differ in one word only', () => {
    const set = new SerialNumberSet();
    const serials = [0n, ...[0n, 1n, 2n, 3n, 4n].map((w) => 1n << (32n * w))];
    serials.forEach((serial, index) => expect(set.add(serial, index)).toBeUndefined());
    serials.forEach((serial, index) => expect(set.add(serial, 100 + index)).toBe(index));
  });
});
