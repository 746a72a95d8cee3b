/**
 * Long fuzzing runs: `npm run fuzz -- --runs 1000000 [--target der,json,http] [--seed N]`.
 * Prints executions per second per target; on a finding, fast-check prints the shrunk input and
 * the seed/path that replays it (`--seed N --path P`). An HTTP execution that takes longer than
 * --hang-ms (default 10000) is reported as a hang.
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { derTarget, httpTarget, jsonTarget, type FuzzTarget } from './targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    target: { type: 'string', default: 'der,json,http' },
    seed: { type: 'string' },
    path: { type: 'string' },
    'hang-ms': { type: 'string', default: '10000' },
  },
});
const targets: Record<string, FuzzTarget> = {
  der: derTarget,
  json: jsonTarget,
  http: httpTarget(),
};
const runs = Number(values.runs);
const seed =
  values.seed === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(values.seed);

let failed = false;
for (const name of (values.target ?? '').split(',')) {
  const target = targets[name];
  if (!target) throw new Error(`unknown target ${name} (der, json, http)`);
  const property = await target.setUp();
  const started = process.hrtime.bigint();
  try {
    await fc.assert(property, {
      numRuns: runs,
      seed,
      ...(values.path ? { path: values.path } : {}),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `${name}: ${runs} executions in ${seconds.toFixed(1)} s = ${Math.round(runs / seconds)}/s, no finding (seed ${seed})`,
    );
  } catch (error) {
    failed = true;
    console.error(`${name}: FINDING\n${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await target.tearDown();
  }
}
process.exitCode = failed ? 1 : 0;
