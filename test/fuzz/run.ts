/**
 * Long fuzzing runs: `npm run fuzz -- --runs 1000000 [--target der,json,http] [--seed N]`.
 * Prints executions per second per target; on a finding, fast-check prints the shrunk input and
 * the seed/path that replays it: `--target T --seed N --path P` runs that one case again and says
 * whether it still fails (exit status 1 if it does). An HTTP execution that takes longer than
 * --hang-ms (default 10000) is reported as a finding (a hang). A command line it cannot use, or a
 * path the seed does not have: one line, exit status 2.
 */
import fc from 'fast-check';
import { replayCase, ReplayPathError } from './replay.js';
import { FuzzUsageError, parseFuzzOptions, type FuzzOptions } from './run-options.js';
import { derTarget, httpTarget, jsonTarget, type FuzzTarget } from './targets.js';

let options: FuzzOptions;
try {
  options = parseFuzzOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof FuzzUsageError)) throw error;
  console.error(`fuzz: ${error.message}`);
  process.exit(2);
}
const { runs, seed, path, hangMs } = options;
const targets: Record<string, () => FuzzTarget> = {
  der: () => derTarget,
  json: () => jsonTarget,
  http: () => httpTarget(),
};

/** Runs `numRuns` generated cases; whether one failed (a finding, printed). */
async function explore(name: string, property: fc.IRawProperty<never>): Promise<boolean> {
  const started = process.hrtime.bigint();
  const details = await fc.check(property, { numRuns: runs, seed, timeout: hangMs });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (details.failed) {
    console.error(`${name}: FINDING\n${fc.defaultReportMessage(details) ?? ''}`);
    return true;
  }
  console.log(
    `${name}: ${details.numRuns} executions in ${seconds.toFixed(1)} s = ` +
      `${Math.round(details.numRuns / seconds)}/s, no finding (seed ${seed})`,
  );
  return false;
}

/** Runs the one case `path` names; whether it failed. */
async function replay(name: string, property: fc.IRawProperty<never>, path: string) {
  const replayed = `${name}: replayed seed ${seed} path ${path}`;
  let result;
  try {
    result = await replayCase(property, { seed, path, hangMs });
  } catch (error) {
    if (!(error instanceof ReplayPathError)) throw error;
    console.error(`fuzz: ${replayed}: ${error.message}`);
    process.exit(2);
  }
  if (result.failed) {
    console.error(`${replayed}: 1 case, FAILED\n${result.report ?? ''}`);
    return true;
  }
  console.log(`${replayed}: 1 case, passed (no finding)`);
  return false;
}

let failed = false;
for (const name of options.targets) {
  const target = targets[name]!();
  const property = await target.setUp();
  try {
    const found =
      path === undefined ? await explore(name, property) : await replay(name, property, path);
    failed ||= found;
  } finally {
    await target.tearDown();
  }
}
process.exitCode = failed ? 1 : 0;
