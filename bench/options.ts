/**
 * The command line of `npm run bench`: each part's options with their kinds and defaults, a strict
 * parser (an unknown part or option, a missing or invalid value is a usage error) and the usage
 * text that --help prints.
 */
import { KEY_KINDS } from './keys.js';

type Kind =
  /** A whole number of at least `min` (1 unless given). */
  | 'int'
  /** A number above 0. */
  | 'positive'
  /** A number of at least 0. */
  | 'nonnegative'
  /** A number from 0 to 1. */
  | 'share'
  /** Whole numbers of at least `min` (0 unless given), comma-separated. */
  | 'ints'
  /** Key kinds (keys.ts KEY_KINDS), comma-separated. */
  | 'keys'
  /** One key kind. */
  | 'key'
  /** Any non-empty text. */
  | 'text'
  /** No value: present or not. */
  | 'flag';

interface OptionSpec {
  kind: Kind;
  /** The default, as the usage text shows it. */
  default?: string;
  min?: number;
  help: string;
}

const seconds = (fallback: number, whole = false): OptionSpec => ({
  kind: whole ? 'int' : 'positive',
  default: String(fallback),
  help: whole ? 'seconds per run (whole: autocannon samples each second)' : 'seconds per run',
});
const runs = (fallback: number): OptionSpec => ({
  kind: 'int',
  default: String(fallback),
  help: 'runs (medians over them)',
});
const connections = (fallback: number): OptionSpec => ({
  kind: 'int',
  default: String(fallback),
  help: 'HTTP connections',
});
const concurrency = (fallback: number): OptionSpec => ({
  kind: 'int',
  default: String(fallback),
  help: 'operations in flight',
});
const against = (what: string): OptionSpec => ({ kind: 'text', help: what });

export const PART_OPTIONS: Record<string, Record<string, OptionSpec>> = {
  'in-process': {
    keys: { kind: 'keys', default: KEY_KINDS.join(','), help: 'key kinds' },
    seconds: seconds(1),
    runs: runs(5),
    concurrency: concurrency(1),
    against: against('another checkout whose src/ issues alongside (its authority and signer)'),
  },
  signing: { seconds: seconds(2), runs: runs(3), concurrency: concurrency(8) },
  'sign-cache': {
    seconds: seconds(1),
    runs: runs(3),
    kb: { kind: 'ints', default: '0,64,256,1024,4096', help: 'KiB written before each signature' },
  },
  http: {
    seconds: seconds(10, true),
    pairs: { kind: 'int', default: '3', help: 'alternations of the servers' },
    connections: connections(64),
    workers: { kind: 'int', default: '1', help: 'processes of each server' },
    'server-flags': {
      kind: 'text',
      help: 'our server\'s flags, one argument with = (--server-flags="--log-type prod")',
    },
    'no-pin': { kind: 'flag', help: 'share every core among servers and load generator' },
    against: against('another checkout whose built dist/ server runs alongside'),
    'token-floor': { kind: 'flag', help: 'add the token floor to the alternation' },
    'turn-floor': { kind: 'flag', help: 'add the turn floor to the alternation' },
  },
  ping: {
    seconds: seconds(10, true),
    connections: connections(50),
    key: { kind: 'key', default: 'p384', help: 'the signing key kind' },
  },
  remote: {
    'latency-ms': { kind: 'nonnegative', default: '20', help: "the fake KMS's latency" },
    seconds: seconds(2),
  },
  pkcs11: {
    sessions: { kind: 'int', default: '4', help: 'sessions in flight' },
    seconds: seconds(2),
    runs: runs(3),
    'latency-ms': { kind: 'nonnegative', default: '0', help: 'an emulated round trip per call' },
  },
  audit: {
    seconds: seconds(3),
    repeats: { kind: 'int', default: '3', help: 'alternations (best kept)' },
    dir: { kind: 'text', default: '/var/tmp', help: "the audit log's folder" },
  },
  ledger: {
    seconds: seconds(5, true),
    repeats: { kind: 'int', default: '2', help: 'alternations (best kept)' },
    connections: connections(32),
  },
  'log-audit': {
    entries: { kind: 'int', default: '20000', help: 'tokens in the log' },
    runs: runs(1),
    certless: { kind: 'share', default: '0', help: 'share of tokens without certReq' },
    against: against('another checkout whose src/ audits alongside'),
    jobs: { kind: 'ints', min: 1, help: "log-audit's --jobs values (default: its own)" },
  },
  startup: { runs: runs(5) },
  webcrypto: { seconds: seconds(1), runs: runs(5) },
  soak: {
    requests: { kind: 'int', default: '1000000', help: 'requests in the soak' },
    connections: connections(50),
  },
};

export class UsageError extends Error {}

/** The one-line problem with `value` for `spec`, or undefined when it is valid. */
function invalid(spec: OptionSpec, value: string): string | undefined {
  const number = Number(value);
  const isNumber = value.trim() !== '' && Number.isFinite(number);
  const wholeList = (min: number) =>
    value.split(',').every((item) => /^\d+$/.test(item) && Number(item) >= min);
  switch (spec.kind) {
    case 'int':
      return /^\d+$/.test(value) && number >= (spec.min ?? 1)
        ? undefined
        : `a whole number of at least ${spec.min ?? 1}`;
    case 'positive':
      return isNumber && number > 0 ? undefined : 'a number above 0';
    case 'nonnegative':
      return isNumber && number >= 0 ? undefined : 'a number of at least 0';
    case 'share':
      return isNumber && number >= 0 && number <= 1 ? undefined : 'a number from 0 to 1';
    case 'ints':
      return wholeList(spec.min ?? 0)
        ? undefined
        : `whole numbers of at least ${spec.min ?? 0}, comma-separated`;
    case 'keys':
      return value.split(',').every((key) => (KEY_KINDS as readonly string[]).includes(key))
        ? undefined
        : `key kinds among ${KEY_KINDS.join(',')}, comma-separated`;
    case 'key':
      return (KEY_KINDS as readonly string[]).includes(value)
        ? undefined
        : `one of ${KEY_KINDS.join(', ')}`;
    case 'text':
      return value !== '' ? undefined : 'a non-empty value';
    case 'flag':
      return value === 'true' ? undefined : 'no value';
  }
}

export interface Command {
  /** The part named, or undefined: every part. */
  part: string | undefined;
  help: boolean;
  /** The options given, validated; a flag's value is 'true'. */
  args: Record<string, string>;
}

/**
 * Parses `argv` (after `npm run bench --`): [part] [--option value | --option=value | --flag]...,
 * or --help / -h anywhere. Throws UsageError, with a one-line message, on anything else. Without a
 * part an option must be one of some part's, and valid for every part that takes it.
 */
export function parseCommand(argv: string[]): Command {
  const help = argv.some((arg) => arg === '--help' || arg === '-h');
  let rest = argv.filter((arg) => arg !== '--help' && arg !== '-h');
  let part: string | undefined;
  if (rest[0] !== undefined && !rest[0].startsWith('-')) {
    part = rest[0];
    rest = rest.slice(1);
    if (!PART_OPTIONS[part])
      throw new UsageError(`unknown part ${part}; parts: ${Object.keys(PART_OPTIONS).join(', ')}`);
  }
  const specsOf = (name: string): [string, OptionSpec][] =>
    Object.entries(PART_OPTIONS)
      .filter(([partName]) => part === undefined || partName === part)
      .flatMap(([partName, options]) => {
        const spec = options[name];
        return spec ? [[partName, spec] as [string, OptionSpec]] : [];
      });
  const args: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (!arg.startsWith('--') || arg === '--')
      throw new UsageError(`unexpected argument ${arg}${part ? '' : ' (a part comes first)'}`);
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    const specs = specsOf(name);
    if (specs.length === 0)
      throw new UsageError(`unknown option --${name}${part ? ` for ${part}` : ''}`);
    if (name in args) throw new UsageError(`--${name} given twice`);
    const flag = specs.every(([, spec]) => spec.kind === 'flag');
    let value: string;
    if (flag) {
      if (equals !== -1) throw new UsageError(`--${name} takes no value`);
      value = 'true';
    } else if (equals !== -1) {
      value = arg.slice(equals + 1);
    } else {
      const next = rest[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new UsageError(
          name === 'server-flags'
            ? 'write --server-flags="--log-type prod ..." (with =): with a space the flags are read as the bench\'s own'
            : `--${name} needs a value`,
        );
      value = next;
      i++;
    }
    for (const [partName, spec] of specs) {
      const problem = invalid(spec, value);
      if (problem)
        throw new UsageError(
          `--${name} ${JSON.stringify(value)}: must be ${problem}${part ? '' : ` (for ${partName})`}`,
        );
    }
    args[name] = value;
  }
  return { part, help, args };
}

/** The usage text: every part's options with their defaults, or one part's. */
export function usage(part?: string): string {
  const lines: string[] = [];
  if (!part)
    lines.push(
      'usage: npm run bench -- [part] [options]   (no part: every part, each with the options it takes)',
      '       npm run bench -- [part] --help',
      'The HTTP parts start dist/ servers: `npm run build` first.',
      '',
    );
  for (const [name, options] of Object.entries(PART_OPTIONS)) {
    if (part && name !== part) continue;
    lines.push(`npm run bench -- ${name}`);
    for (const [option, spec] of Object.entries(options)) {
      const label = spec.kind === 'flag' ? `--${option}` : `--${option} <${spec.kind}>`;
      const fallback = spec.default === undefined ? '' : ` (default ${spec.default})`;
      lines.push(`  ${label.padEnd(28)} ${spec.help}${fallback}`);
    }
  }
  return lines.join('\n');
}
