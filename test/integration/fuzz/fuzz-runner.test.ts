import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { childEnvironment, reapChild } from '../../helpers/process.js';
import { replayCase, ReplayPathError } from '../../fuzz/replay.js';
import { FuzzUsageError, parseFuzzOptions, TARGET_NAMES } from '../../fuzz/run-options.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

/**
 * `npm run fuzz -- <args>` as the script runs it (in a spawned server's environment, killed if the
 * test fails first): its exit status and output.
 */
async function fuzz(args: string[]) {
  try {
    const running = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/fuzz/run.ts', ...args],
      { cwd: REPO, env: childEnvironment(), encoding: 'utf8' },
    );
    reapChild(running.child);
    const { stdout, stderr } = await running;
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const usage = (args: string[]) => {
  try {
    parseFuzzOptions(args, () => 7);
  } catch (error) {
    if (error instanceof FuzzUsageError) return error.message;
    throw error;
  }
  return undefined;
};

describe('npm run fuzz: its command line', () => {
  it('defaults to every target, 100000 runs, a drawn seed, no replay', () => {
    expect(parseFuzzOptions([], () => 7)).toEqual({
      targets: [...TARGET_NAMES],
      runs: 100_000,
      seed: 7,
      path: undefined,
      hangMs: 10_000,
    });
  });

  it('refuses what it cannot use, naming the valid choices', () => {
    expect(usage(['--target', 'bogus'])).toBe(
      'unknown target "bogus": the targets are der, json, http',
    );
    expect(usage(['--runs', '1e3'])).toBe('--runs must be a whole number of at least 1, not "1e3"');
    expect(usage(['--seed', 'x'])).toContain('--seed must be a whole number');
    expect(usage(['--path', '12:3:0'])).toBe('--path replays a finding: give its --seed too');
    expect(usage(['--seed', '1', '--path', '12:3:0'])).toBe(
      '--path replays a finding of one target: give one --target',
    );
    expect(usage(['--target', 'der', '--seed', '1', '--path', '12;3'])).toContain('--path must be');
    expect(usage(['--bogus'])).toMatch(/^Unknown option '--bogus'; usage: npm run fuzz/);
  });

  it('an unknown target: one line and exit status 2, no stack', async () => {
    expect(await fuzz(['--target', 'bogus'])).toEqual({
      status: 2,
      stdout: '',
      stderr: 'fuzz: unknown target "bogus": the targets are der, json, http\n',
    });
  });

  it('a replay reports its one case, not a throughput', async () => {
    const run = await fuzz(['--target', 'der', '--seed', '1234', '--path', '12:3:0']);
    expect(run).toEqual({
      status: 0,
      stdout: 'der: replayed seed 1234 path 12:3:0: 1 case, passed (no finding)\n',
      stderr: '',
    });
  });
});

describe('replayCase', () => {
  const below50 = () =>
    fc.property(fc.integer(), (n) => n < 50) as unknown as fc.IRawProperty<never>;

  it("reports the finding's case as failed, and the same case passing once fixed", async () => {
    const found = await fc.check(below50(), { seed: 1234 });
    expect(found.failed).toBe(true);
    const path = found.counterexamplePath ?? '';
    const again = await replayCase(below50(), { seed: 1234, path, hangMs: 1000 });
    expect(again.failed).toBe(true);
    expect(again.report).toContain(`path: "${path}"`);
    const seen: number[] = [];
    const fixed = fc.property(fc.integer(), (n) => {
      seen.push(n);
      // The replayed case passes; a neighbour fast-check tries after it would fail.
      return seen.length === 1;
    }) as unknown as fc.IRawProperty<never>;
    expect(await replayCase(fixed, { seed: 1234, path, hangMs: 1000 })).toEqual({
      failed: false,
      report: undefined,
    });
    expect(seen[0]).toBe(found.counterexample?.[0]);
  });

  it('a path the seed does not have is a ReplayPathError', async () => {
    await expect(
      replayCase(below50(), { seed: 1234, path: '12:3:0', hangMs: 1000 }),
    ).rejects.toBeInstanceOf(ReplayPathError);
  });
});
