/**
 * Does coverage guidance find more? Block coverage (V8 precise coverage through node:inspector)
 * of src/asn1 and src/tsp reached by the same number of executions of:
 *   random: the fuzz target's own generator (seeds under random mutation plans);
 *   guided: a corpus that starts as the seeds and keeps every input that covers a new block,
 *           mutating corpus entries rather than only the seeds (the AFL loop, in batches).
 * Run: node --import tsx test/fuzz/coverage.ts [--runs 200000] [--target der|json]
 */
import fc from 'fast-check';
import { Session } from 'node:inspector';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200000' },
    target: { type: 'string', default: 'der' },
    batch: { type: 'string', default: '200' },
  },
});
const runs = Number(values.runs);
const batchSize = Number(values.batch);

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface Coverage {
  result: { url: string; functions: { ranges: Range[] }[] }[];
}

const session = new Session();
session.connect();
const post = <T>(method: string, params?: object): Promise<T> =>
  new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (error, result) =>
      error ? reject(error) : resolve(result as T),
    ),
  );
await post('Profiler.enable');
await post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });

// Loaded after coverage starts so their functions get block counters.
const { checkDerInput, checkJsonInput } = await import('./targets.js');
const { applyMutationPlan, mutationPlanArbitrary, mutatedInput } =
  await import('./der-mutations.js');
const { jsonInput } = await import('./json-mutations.js');
const { derSeeds, jsonSeeds } = await import('../helpers/seeds.js');

const isTargetScript = (url: string): boolean => /\/src\/(asn1|tsp)\//.test(url);

/**
 * Covered source positions per script. V8 reports nested ranges (a block inside a function inside
 * another), whose identity shifts between takes, so coverage is compared position by position:
 * each position takes the count of the innermost range holding it.
 */
type Covered = Map<string, Uint8Array>;
const scriptSizes = new Map<string, number>();

/** Positions executed since the previous call (V8 resets the counters on each take). */
async function executed(): Promise<Covered> {
  const { result } = await post<Coverage>('Profiler.takePreciseCoverage');
  const covered: Covered = new Map();
  for (const script of result) {
    if (!isTargetScript(script.url)) continue;
    const ranges = script.functions.flatMap((fn) => fn.ranges);
    const size = Math.max(0, ...ranges.map((range) => range.endOffset));
    scriptSizes.set(script.url, Math.max(scriptSizes.get(script.url) ?? 0, size));
    const marks = new Uint8Array(size);
    ranges.sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
    for (const range of ranges)
      marks.fill(range.count > 0 ? 1 : 0, range.startOffset, range.endOffset);
    covered.set(script.url, marks);
  }
  return covered;
}

/** Adds `batch` into `total`; returns how many positions were new. */
function merge(total: Covered, batch: Covered, dryRun = false): number {
  let added = 0;
  for (const [url, marks] of batch) {
    let into = total.get(url);
    if (!into || into.length < marks.length) {
      const grown = new Uint8Array(marks.length);
      if (into) grown.set(into);
      into = grown;
      if (!dryRun) total.set(url, into);
    }
    for (let i = 0; i < marks.length; i++) {
      if (marks[i] && !into[i]) {
        added++;
        if (!dryRun) into[i] = 1;
      }
    }
  }
  return added;
}

const count = (covered: Covered): number =>
  [...covered.values()].reduce((sum, marks) => sum + marks.reduce((a, b) => a + b, 0), 0);

const target = values.target === 'json' ? 'json' : 'der';
const check = target === 'der' ? checkDerInput : checkJsonInput;
const seeds = [...(target === 'der' ? derSeeds : jsonSeeds).values()];
const generator = target === 'der' ? mutatedInput(seeds) : jsonInput(seeds);

async function random(): Promise<number> {
  await executed();
  const covered: Covered = new Map();
  for (let done = 0, batch = 0; done < runs; done += batchSize, batch++) {
    for (const input of fc.sample(generator, { numRuns: batchSize, seed: batch })) check(input);
    merge(covered, await executed());
  }
  return count(covered);
}

async function guided(): Promise<{ covered: number; corpus: number }> {
  await executed();
  const corpus = [...seeds];
  const covered: Covered = new Map();
  for (const seed of seeds) check(seed);
  merge(covered, await executed());
  const plans = fc.tuple(fc.nat(), fc.nat(), mutationPlanArbitrary);
  for (let done = 0, batch = 0; done < runs; done += batchSize, batch++) {
    const inputs = fc
      .sample(plans, { numRuns: batchSize, seed: batch })
      // Half from the seeds, half from the inputs kept for new coverage (which are mostly broken).
      .map(([a, b, plan]) => {
        const pool = a % 2 === 0 ? seeds : corpus;
        return applyMutationPlan(
          pool[(a >> 1) % pool.length] as Buffer,
          plan,
          corpus[b % corpus.length] as Buffer,
        );
      });
    for (const input of inputs) check(input);
    if (merge(covered, await executed(), true) === 0) continue;
    // Something new in this batch: find which inputs, and keep them.
    for (const input of inputs) {
      check(input);
      if (merge(covered, await executed()) > 0) corpus.push(input);
    }
  }
  return { covered: count(covered), corpus: corpus.length };
}

const randomCovered = await random();
const guidedResult = await guided();
const total = [...scriptSizes.values()].reduce((a, b) => a + b, 0);
const percent = (n: number): string => `${((n / total) * 100).toFixed(1)}%`;
console.log(
  `${target}, ${runs} executions each: random covers ${randomCovered} source positions (${percent(randomCovered)}), ` +
    `guided ${guidedResult.covered} (${percent(guidedResult.covered)}, corpus grew to ${guidedResult.corpus}) ` +
    `of src/asn1 and src/tsp`,
);
