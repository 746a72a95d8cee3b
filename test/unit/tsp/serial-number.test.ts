/** Serial numbers: positive (never all-zero) 160-bit values from a pooled CSPRNG buffer. */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const fills = vi.hoisted(() => ({ count: 0 }));

// A deterministic pool that differs on each fill: the first serial of each fill is all zero, the
// others count up from the fill's number (fill 1: 1, 2, ..., 255; fill 2: 2, ..., 255, 1; ...), so a
// serial that kept a view of the pool would change when the pool is refilled.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    randomFillSync: (pool: Uint8Array) => {
      fills.count++;
      for (let i = 0; i < pool.length; i++) {
        const k = Math.floor(i / 20);
        pool[i] = k === 0 ? 0 : ((k + fills.count - 2) % 255) + 1;
      }
      return pool;
    },
  };
});

const { createSerialNumberSource } = await import('../../../src/tsp/serial-number.js');

describe('createSerialNumberSource', () => {
  beforeEach(() => {
    fills.count = 0;
  });

  it('skips an all-zero draw (a serial number is positive), refills the pool after 256', () => {
    const next = createSerialNumberSource();
    const first = next();
    expect(fills.count).toBe(1);
    expect(first).toEqual(new Uint8Array(20).fill(1));
    const serials = [first];
    for (let i = 0; i < 255; i++) serials.push(next());
    // 255 non-zero serials per pool of 256: the 256th draw needs the second fill, after its zero.
    expect(fills.count).toBe(2);
    expect(serials.at(-2)).toEqual(new Uint8Array(20).fill(255));
    expect(serials.at(-1)).toEqual(new Uint8Array(20).fill(2));
    expect(serials.every((serial) => serial.some((octet) => octet !== 0))).toBe(true);
  });

  it('hands out copies: refilling the pool does not change a serial already given', () => {
    const next = createSerialNumberSource();
    const first = next();
    for (let i = 0; i < 300; i++) next();
    expect(fills.count).toBe(2);
    expect(first).toEqual(new Uint8Array(20).fill(1));
  });
});
