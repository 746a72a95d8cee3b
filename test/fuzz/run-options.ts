import { parseArgs } from 'node:util';

/** The targets `npm run fuzz` knows, in the order it runs them. */
export const TARGET_NAMES = ['der', 'json', 'http'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** A command line the fuzz runner refuses: it prints the message in one line and exits 2. */
export class FuzzUsageError extends Error {
  override name = 'FuzzUsageError';
}

export interface FuzzOptions {
  targets: TargetName[];
  runs: number;
  seed: number;
  /** fast-check's replay path (`--path`): one case, with `--seed`, of one target. */
  path: string | undefined;
  /** An execution longer than this is a finding (a hang); async targets (http) only. */
  hangMs: number;
}

const USAGE =
  'usage: npm run fuzz -- [--runs N] [--target der,json,http] [--seed N [--path P]] [--hang-ms MS]';

function wholeNumber(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min)
    throw new FuzzUsageError(`--${flag} must be a whole number of at least ${min}, not "${text}"`);
  return value;
}

/** The runner's options from its arguments; a FuzzUsageError for any it cannot use. */
export function parseFuzzOptions(
  args: readonly string[],
  randomSeed: () => number = () => Date.now() ^ (Math.random() * 0x7fffffff),
): FuzzOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        runs: { type: 'string', default: '100000' },
        target: { type: 'string', default: TARGET_NAMES.join(',') },
        seed: { type: 'string' },
        path: { type: 'string' },
        'hang-ms': { type: 'string', default: '10000' },
      },
    }));
  } catch (error) {
    // node:util's message ("Unknown option '--x'. To specify a positional argument ...").
    throw new FuzzUsageError(`${(error as Error).message.split('. ')[0]}; ${USAGE}`);
  }
  const targets = values.target.split(',').map((name) => name.trim());
  for (const name of targets) {
    if (!(TARGET_NAMES as readonly string[]).includes(name))
      throw new FuzzUsageError(
        `unknown target "${name}": the targets are ${TARGET_NAMES.join(', ')}`,
      );
  }
  const path = values.path;
  if (path !== undefined) {
    if (!/^\d+(:\d+)*$/.test(path))
      throw new FuzzUsageError(
        `--path must be fast-check's replay path, e.g. 12:3:0, not "${path}"`,
      );
    if (values.seed === undefined)
      throw new FuzzUsageError('--path replays a finding: give its --seed too');
    if (targets.length !== 1)
      throw new FuzzUsageError('--path replays a finding of one target: give one --target');
  }
  return {
    targets: targets as TargetName[],
    runs: wholeNumber('runs', values.runs, 1),
    seed: values.seed === undefined ? randomSeed() : wholeNumber('seed', values.seed, -(2 ** 31)),
    path,
    hangMs: wholeNumber('hang-ms', values['hang-ms'], 1),
  };
}
