import { randomFillSync } from 'node:crypto';

const SERIAL_OCTETS = 20;
const POOL_SERIALS = 256;

/**
 * Random positive serial numbers of at most 160 bits (as Go: 20 random octets read as unsigned),
 * drawn from a pooled CSPRNG buffer so the hot path makes one syscall per 256 tokens.
 */
export function createSerialNumberSource(): () => Uint8Array {
  const pool = new Uint8Array(SERIAL_OCTETS * POOL_SERIALS);
  let offset = pool.length;
  return function nextSerialNumber(): Uint8Array {
    while (true) {
      if (offset === pool.length) {
        randomFillSync(pool);
        offset = 0;
      }
      // Copy out (one allocation: slice, not subarray): the pool is refilled in place.
      const serial = pool.slice(offset, offset + SERIAL_OCTETS);
      offset += SERIAL_OCTETS;
      for (let i = 0; i < SERIAL_OCTETS; i++) if (serial[i] !== 0) return serial;
    }
  };
}
