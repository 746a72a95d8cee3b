import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import {
  TokenCheckPool,
  TokenCheckPoolError,
  type WorkerModule,
} from '../../../src/cli/timestamp-cli/token-check-pool.js';
import type { TokenOutcome } from '../../../src/cli/timestamp-cli/token-check.js';
import { VerificationError } from '../../../src/verify/index.js';

/**
 * log-audit's pool of token-check threads (token-check-pool.ts) with workers that misbehave as
 * the real one (token-check-worker.ts) should not: they answer out of order, die, throw, answer
 * what was not asked or never answer. Whatever they do, the pool hands over outcomes in entry order,
 * fails with a line that says what happened, and settles: nothing waits forever. The real worker
 * runs in log-audit-jobs.test.ts.
 */

/** A worker's code: `onBatch` is the body of its handler of each batch `b` ({ id, first, bytes, ends }). */
const worker = (onBatch: string, setup = ''): WorkerModule => ({
  eval: `
    const { parentPort } = require('node:worker_threads');
    /** Verdicts for entries [from, to) of b: each entry's last byte is its serial. */
    const verdicts = (b, from = 0, to = b.ends.length) =>
      [...b.ends].slice(from, to).map((end) => ({ verdict: { serial: BigInt(b.bytes[end - 1]), unchecked: false } }));
    ${setup}
    parentPort.on('message', (b) => { ${onBatch} });
  `,
});

const pools: TokenCheckPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

/** A pool of `module`'s workers, and the outcomes it hands over, in the order handed. */
function poolOf(module: WorkerModule, jobs = 1, batchSize = 4) {
  const taken: { index: number; outcome: TokenOutcome }[] = [];
  const pool = new TokenCheckPool({
    jobs,
    batchSize,
    chain: undefined,
    take: (index, outcome) => {
      taken.push({ index, outcome });
      if ('error' in outcome) throw outcome.error;
    },
    worker: module,
  });
  pools.push(pool);
  return { pool, taken };
}

/** Submits entries 0 … count-1 (entry i is the byte i) and settles; the settle's error if any. */
async function run(pool: TokenCheckPool, count: number): Promise<unknown> {
  try {
    for (let i = 0; i < count; i++) await pool.submit(Uint8Array.of(i), i);
    await pool.settle();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('the token-check pool', () => {
  it('hands over outcomes in entry order whatever order the threads answer in', async () => {
    // One thread, given all eight batches, answers them two at a time, the later one first (with
    // more threads, one could be left holding a single batch for good).
    const { pool, taken } = poolOf(
      worker(
        `held.push(b); if (held.length === 2) for (const h of held.splice(0).reverse()) parentPort.postMessage({ id: h.id, outcomes: verdicts(h) });`,
        'const held = [];',
      ),
      1,
      2,
    );
    expect(await run(pool, 16)).toBeUndefined();
    expect(taken.map(({ index }) => index)).toEqual([...Array(16).keys()]);
    expect(
      taken.map(({ outcome }) => ('verdict' in outcome ? outcome.verdict.serial : -1n)),
    ).toEqual([...Array(16).keys()].map(BigInt));
  });

  it('makes a verification error and a CliError again as their classes, with code and message', async () => {
    const { pool, taken } = poolOf(
      worker(
        `parentPort.postMessage({ id: b.id, outcomes: [...verdicts(b, 0, 2), { error: { kind: b.first === 0 ? 'verification' : 'cli', code: b.first === 0 ? 'signature' : 'VERIFICATION_FAILED', message: 'entry ' + (b.first + 2) + ' is wrong' } }] });`,
      ),
    );
    const error = await run(pool, 8);
    expect(error).toBeInstanceOf(VerificationError);
    expect(error).toMatchObject({ code: 'signature', message: 'entry 2 is wrong' });
    expect(taken.map(({ index }) => index)).toEqual([0, 1, 2]);
    // What ended the pool's work ends every later call.
    await expect(pool.submit(Uint8Array.of(9), 9)).rejects.toBe(error);
    await expect(pool.settle()).rejects.toBe(error);

    const cli = poolOf(
      worker(
        `parentPort.postMessage({ id: b.id, outcomes: [{ error: { kind: 'cli', code: 'VERIFICATION_FAILED', message: 'entry 0: its signer certificate is nowhere' } }] });`,
      ),
    );
    const refused = await run(cli.pool, 3);
    expect(refused).toBeInstanceOf(CliError);
    expect(refused).toMatchObject({
      code: 'VERIFICATION_FAILED',
      message: 'entry 0: its signer certificate is nowhere',
    });
  });

  it('fails on an error no check should throw, naming the entry, after the entries before it', async () => {
    const { pool, taken } = poolOf(
      worker(
        `parentPort.postMessage({ id: b.id, outcomes: b.first === 0 ? verdicts(b) : [...verdicts(b, 0, 1), { error: { kind: 'other', message: 'TypeError: x is not a function' } }] });`,
      ),
    );
    const error = await run(pool, 12);
    expect(error).toBeInstanceOf(TokenCheckPoolError);
    expect(error).toMatchObject({
      code: 'CHECK_FAILED',
      message:
        'entry 5: the token check failed unexpectedly in a worker thread: TypeError: x is not a function',
    });
    expect(taken.map(({ index }) => index)).toEqual([0, 1, 2, 3, 4]);
  });

  it.each([
    ['exits', 'process.exit(7);', 'it exited with code 7'],
    ['throws', "throw new RangeError('boom');", 'it failed: RangeError: boom'],
    [
      'answers a batch it was not given',
      'parentPort.postMessage({ id: b.id + 100, outcomes: verdicts(b) });',
      'it answered a batch it was not checking (100)',
    ],
    [
      'answers too few outcomes',
      'parentPort.postMessage({ id: b.id, outcomes: verdicts(b, 0, 1) });',
      'its answer for entries 0-3 has 1 outcomes for 4 entries',
    ],
    [
      'answers something else',
      "parentPort.postMessage({ id: b.id, outcomes: [...verdicts(b, 0, 3), { verdict: { serial: 'one' } }] });",
      'its answer for entries 0-3 holds something other than outcomes',
    ],
  ])('fails clearly when a worker %s, and settles', async (_, onBatch, why) => {
    const { pool, taken } = poolOf(worker(onBatch));
    const error = await run(pool, 6);
    expect(error).toBeInstanceOf(TokenCheckPoolError);
    expect(error).toMatchObject({
      code: 'WORKER_FAILED',
      message: `a token-check worker thread stopped while checking entries 0-3, 4-5: ${why}`,
    });
    expect(taken).toEqual([]);
  });

  it('fails clearly when the worker module cannot be loaded', async () => {
    const { pool } = poolOf({ url: new URL('./no-such-worker.js', import.meta.url) });
    const error = await run(pool, 2);
    expect(error).toBeInstanceOf(TokenCheckPoolError);
    expect((error as Error).message).toMatch(
      /^a token-check worker thread stopped while checking entries 0-1: it failed: Error: Cannot find module .*no-such-worker\.js/,
    );
  });

  it("reports an earlier entry's failure, not a later thread's death, and the death before later failures", async () => {
    // Two threads: the batch of entries 0-3 on one, 4-7 on the other.
    const failsFirst = poolOf(
      worker(
        `if (b.first === 0) parentPort.postMessage({ id: b.id, outcomes: [...verdicts(b, 0, 1), { error: { kind: 'verification', code: 'parse', message: 'entry 1 is no token' } }] }); else process.exit(3);`,
      ),
      2,
    );
    expect(await run(failsFirst.pool, 8)).toMatchObject({ message: 'entry 1 is no token' });

    const diesFirst = poolOf(
      worker(
        `if (b.first === 0) process.exit(3); else parentPort.postMessage({ id: b.id, outcomes: [{ error: { kind: 'verification', code: 'parse', message: 'entry 4 is no token' } }] });`,
      ),
      2,
    );
    expect(await run(diesFirst.pool, 8)).toMatchObject({
      code: 'WORKER_FAILED',
      message:
        'a token-check worker thread stopped while checking entries 0-3: it exited with code 3',
    });
  });

  it('holds at most three batches a thread: the next waits, and close() ends it and the threads', async () => {
    const { pool } = poolOf(worker('/* never answers */'), 1, 1);
    for (let i = 0; i < 3; i++) await pool.submit(Uint8Array.of(i), i);
    let settled = false;
    const fourth = pool.submit(Uint8Array.of(3), 3).finally(() => (settled = true));
    fourth.catch(() => undefined);
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    // close() returns once the thread has exited; the submit waiting on it fails at once.
    await pool.close();
    await expect(fourth).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message:
        'a token-check worker thread stopped while checking entries 0, 1, 2: the pool was closed',
    });
    await expect(pool.submit(Uint8Array.of(4), 4)).rejects.toThrow(
      'the token-check pool is closed',
    );
  });
});
