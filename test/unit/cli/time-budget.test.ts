import { describe, expect, it } from 'vitest';
import { TimeBudget } from '../../../src/cli/timestamp-cli/time-budget.js';

/** One --timeout shared by several requests, on a clock of the test's. */
describe('TimeBudget', () => {
  it('leaves what the clock has not spent of --timeout, in whole milliseconds rounded up', () => {
    let now = 5_000;
    const budget = new TimeBudget(1_000, () => now);
    expect(budget.leftMs()).toBe(1_000);
    now += 399.5;
    expect(budget.leftMs()).toBe(601);
    now += 600;
    // Some left: at least 1, never 0, which a timeout would read as none.
    expect(budget.leftMs()).toBe(1);
  });

  it('is spent (0) at the deadline and after it', () => {
    let now = 0;
    const budget = new TimeBudget(1_000, () => now);
    now = 1_000;
    expect(budget.leftMs()).toBe(0);
    now = 2_500;
    expect(budget.leftMs()).toBe(0);
  });

  it('has no limit with --timeout 0', () => {
    let now = 0;
    const budget = new TimeBudget(0, () => now);
    now = 1e12;
    expect(budget.leftMs()).toBeUndefined();
  });
});
