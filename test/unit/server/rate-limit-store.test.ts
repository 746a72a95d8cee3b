import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimitStore } from '../../../src/server/rate-limit.js';

const WINDOW_MS = 60_000;

/** The count the store gives `key` for one more request. */
const hit = (store: RateLimitStore, key: string) => {
  let current = -1;
  store.incr(key, (_error, result) => (current = result?.current ?? -1), WINDOW_MS);
  return current;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('RateLimitStore', () => {
  it('counts per client within a window, and starts a new window once it has passed', () => {
    let now = 0;
    const store = new RateLimitStore(() => now);
    expect([hit(store, 'a'), hit(store, 'a'), hit(store, 'b')]).toEqual([1, 2, 1]);
    now = WINDOW_MS - 1;
    expect(hit(store, 'a')).toBe(3);
    now = WINDOW_MS;
    expect(hit(store, 'a')).toBe(1);
  });

  it('times its windows on the monotonic clock: a wall clock stepped back does not lengthen them', () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const store = new RateLimitStore();
    expect(hit(store, 'client')).toBe(1);
    // The wall clock is stepped back an hour (a TSA's clock is disciplined), then a window passes.
    vi.setSystemTime(Date.now() - 3_600_000);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(hit(store, 'client')).toBe(1);
  });
});
