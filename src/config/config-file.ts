import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { ConfigError, type ConfigLayer, type ConfigValues } from './resolve.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';
import { readYaml } from './yaml-document.js';
import { shownKey } from './key-name.js';
import { readRegularFileCappedSync } from '../capped-read.js';

const CONFIG_NAME = 'timestamp-server';
/** The types this server reads (JSON is YAML). */
const READ_TYPES = ['yaml', 'yml', 'json'];
/** viper's SupportedExts, in the order its search tries them. */
const VIPER_TYPES = [
  'json',
  'toml',
  'yaml',
  'yml',
  'properties',
  'props',
  'prop',
  'hcl',
  'tfvars',
  'dotenv',
  'env',
  'ini',
];
/**
 * What the Go server's viper search takes in a directory, in its order: the config name with each
 * of viper's extensions, then the bare name (read as YAML, the type the Go server sets).
 */
const GO_NAMES = [...VIPER_TYPES.map((type) => `${CONFIG_NAME}.${type}`), CONFIG_NAME];
const READ_NAMES = READ_TYPES.map((type) => `${CONFIG_NAME}.${type}`);
const READ_LIST = 'timestamp-server.yaml, .yml or .json';

const OPTION_BY_FLAG = new Map(
  (Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][]).flatMap(
    ([name, spec]) => [spec.flag, ...(spec.aliases ?? [])].map((flag) => [flag, name] as const),
  ),
);

/**
 * The config file to read: `--config` if given (it must exist), else the one the Go server's search
 * finds in the first of `searchDirs` holding any ($HOME, then the working directory). Where the Go
 * server would read a file this server does not (timestamp-server.toml, a bare timestamp-server,
 * or .json beside .yaml), start-up stops: starting without it would mean the defaults, so the
 * memory signer. `program` (this program's path) is never taken for a bare `timestamp-server`.
 */
export function findConfigFile(
  explicitPath: string | undefined,
  searchDirs: readonly string[],
  program?: string,
): string | undefined {
  if (explicitPath) {
    const path = resolve(explicitPath);
    if (!existsSync(path))
      throw new ConfigError('FILE_NOT_FOUND', `config file ${path}: not found`);
    const type = extname(path).slice(1).toLowerCase();
    if (VIPER_TYPES.includes(type) && !READ_TYPES.includes(type))
      throw new ConfigError(
        'FILE_INVALID',
        `config file ${path}: a .${type} file, which this server does not read: give it as YAML or JSON`,
      );
    return path;
  }
  const self = program === undefined ? undefined : realPath(program);
  for (const dir of searchDirs) {
    const found = GO_NAMES.map((name) => join(dir, name)).filter(
      (path) => isFile(path) && (self === undefined || realPath(path) !== self),
    );
    const [first, ...others] = found;
    if (first === undefined) continue;
    if (others.length > 0) {
      throw new ConfigError(
        'FILE_INVALID',
        `config file search: ${dir} holds ${found.map((path) => basename(path)).join(' and ')}; the Go server reads ${basename(first)} (viper's order), this server only one of ${READ_LIST}: keep one, or name it with --config`,
      );
    }
    if (!READ_NAMES.includes(basename(first))) {
      throw new ConfigError(
        'FILE_INVALID',
        `config file search: found ${first}, which the Go server reads as its config file, but this server reads only ${READ_LIST} and would start without it: convert it to YAML or JSON, remove it, or name a config file with --config`,
      );
    }
    return first;
  }
  return undefined;
}

/** A file (or a link to one), as viper's search takes it; a directory or nothing is not. */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Whether `path` is /dev/null, however named (a link to it). */
function isDevNull(path: string): boolean {
  try {
    return realpathSync(path) === '/dev/null';
  } catch {
    return false;
  }
}

/** A config file's most: flag names and values, and profiles, are a few KB. */
const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

/** Strict: invalid UTF-8 is an error, not U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a YAML or JSON config file whose keys are flag names. Anything wrong stops start-up naming
 * the file and key: a server must never quietly start with defaults (the memory signer).
 */
export function readConfigFile(path: string): ConfigLayer {
  const source = `config file ${path}`;
  const unreadable = (why: string, options?: ErrorOptions) =>
    new ConfigError('FILE_UNREADABLE', `${source}: cannot read: ${why}`, options);
  let bytes: Buffer;
  try {
    // --config /dev/null: no file, and no search; the one device taken.
    bytes = isDevNull(path)
      ? Buffer.alloc(0)
      : readRegularFileCappedSync(path, MAX_CONFIG_FILE_BYTES, {
          notRegular: () => unreadable('not a regular file (a FIFO, a device or a folder)'),
          tooLarge: () => unreadable(`larger than ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB`),
        });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw unreadable((error as Error).message, { cause: error });
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (error) {
    // As go-yaml: a Latin-1 password read as U+FFFD would fail later as a wrong password.
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: not UTF-8 text (saved in another encoding, such as Latin-1?): save it as UTF-8`,
      { cause: error },
    );
  }
  const yaml = readYaml(text, source);
  const content = yaml.value;
  if (content === null || content === undefined) return { source, values: {} };
  if (typeof content !== 'object' || Array.isArray(content)) {
    throw new ConfigError('FILE_INVALID', `${source}: expected a mapping of flag names to values`);
  }
  const values: ConfigValues = {};
  const warnings: string[] = [];
  // The key the file used for each option, by flag: an error names `listen-limit` where it was.
  const keys = new Map<string, string>();
  const layer: ConfigLayer = {
    source,
    values,
    warnings,
    nameOf: (spec) => `key "${keys.get(spec.flag) ?? spec.flag}"`,
  };
  for (const [key, value] of Object.entries(content)) {
    // Keys without case, as viper reads the Go server's (`Port:`, `LOG-TYPE:`).
    const lowerCaseKey = key.toLowerCase();
    // File-only keys (docs/configuration.md, "Profiles"): lists of mappings, not flags.
    if (lowerCaseKey === 'profiles' || lowerCaseKey === 'previous-chains') {
      const field = lowerCaseKey === 'profiles' ? 'profiles' : 'previousChains';
      const earlier = keys.get(lowerCaseKey);
      // `profiles:` and `Profiles:` are one key to viper: the second list replaced the first.
      if (earlier !== undefined)
        throw new ConfigError(
          'CONFLICTING_OPTIONS',
          `${source}: keys "${earlier}" and "${key}" both set ${lowerCaseKey}: make them one list`,
        );
      keys.set(lowerCaseKey, key);
      layer[field] = value;
      continue;
    }
    const name = OPTION_BY_FLAG.get(lowerCaseKey);
    if (!name) {
      throw new ConfigError(
        'UNKNOWN_KEY',
        `${source}: unknown key ${shownKey(key)}${yaml.whereIsKey(key)}`,
      );
    }
    if (value === null)
      throw new ConfigError('INVALID_VALUE', `${source}: key "${key}" has no value`);
    const flag = SERVE_OPTIONS[name].flag;
    const earlier = keys.get(flag);
    if (earlier !== undefined) {
      // An option's two names (max-connections, listen-limit): refused where they differ, as
      // yaml refuses a key given twice; values not shown, as they may be secrets.
      const both = `keys "${earlier}" and "${key}" both set ${flag}`;
      if (!sameValue(values[name], value))
        throw new ConfigError(
          'CONFLICTING_OPTIONS',
          `${source}: ${both}, to different values: remove one`,
        );
      warnings.push(`${source}: ${both} (to the same value): remove one`);
    }
    keys.set(flag, key);
    values[name] = value;
  }
  return layer;
}

/** Equal as options: `100` and `"100"` name one value, as they do on the command line. */
function sameValue(a: unknown, b: unknown): boolean {
  const scalar = (v: unknown) => typeof v !== 'object' || v === null;
  if (scalar(a) && scalar(b)) return String(a) === String(b);
  return JSON.stringify(a) === JSON.stringify(b);
}
