import { describe, expect, it } from 'vitest';
import { ByteLru } from '../../../src/server/byte-lru.js';

describe('ByteLru', () => {
  it('counts each value once, however often its key is set', () => {
    const lru = new ByteLru(10);
    lru.set('a', new Uint8Array(4));
    lru.set('a', new Uint8Array(6));
    expect(lru.bytes).toBe(6);
    lru.set('b', new Uint8Array(4));
    expect(lru.bytes).toBe(10);
    expect(lru.get('a')).toHaveLength(6);
  });

  it('makes room by dropping the least recently used, and keeps nothing larger than its bound', () => {
    const lru = new ByteLru(10);
    lru.set('a', new Uint8Array(4));
    lru.set('b', new Uint8Array(4));
    lru.get('a');
    lru.set('c', new Uint8Array(4));
    expect([lru.get('a'), lru.get('b'), lru.get('c')].map((value) => value?.length)).toEqual([
      4,
      undefined,
      4,
    ]);
    lru.set('d', new Uint8Array(11));
    expect(lru.get('d')).toBeUndefined();
    expect(lru.bytes).toBe(8);
  });
});
