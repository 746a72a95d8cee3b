import fc from 'fast-check';
import { describe, it } from 'vitest';
import { derTarget, httpTarget, jsonTarget, type FuzzTarget } from '../fuzz/targets.js';

/**
 * The fuzz smoke run (about a minute on two cores): the same targets as `npm run fuzz`, fewer
 * executions, with the suite's fixed seed (test/setup/fast-check-seed.ts; FC_SEED picks another).
 * `npm run fuzz` draws a random seed. On a finding fast-check prints the seed and path to replay
 * (`npm run fuzz -- --target der --seed S --path P`). FUZZ_SCALE=0.1 shortens it.
 */
const scale = Number(process.env.FUZZ_SCALE ?? '1');
const runs = (count: number): number => Math.max(100, Math.round(count * scale));

async function fuzz(target: FuzzTarget, numRuns: number): Promise<void> {
  const property = await target.setUp();
  try {
    await fc.assert(property, { numRuns });
  } finally {
    await target.tearDown();
  }
}

describe('fuzzing (smoke)', { timeout: 300_000 }, () => {
  it('DER parser and request checks: every input is parsed or refused with a 4xx rejection, and what is accepted is canonical DER', () =>
    fuzz(derTarget, runs(600_000)));

  it('JSON parser: every input is parsed or refused with a 4xx rejection', () =>
    fuzz(jsonTarget, runs(450_000)));

  it('HTTP handler: every body and content type gets a 2xx or 4xx answer', () =>
    fuzz(httpTarget(), runs(180_000)));
});
