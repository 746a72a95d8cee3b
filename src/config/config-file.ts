import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ConfigLayer, type ConfigValues } from './resolve.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';
import { readYaml } from './yaml-document.js';
import { shownKey } from './key-name.js';

/** The Go server's viper search: config name `timestamp-server` in $HOME, then the working directory. */
const CONFIG_NAMES = ['timestamp-server.yaml', 'timestamp-server.yml', 'timestamp-server.json'];

const OPTION_BY_FLAG = new Map(
  (Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][]).flatMap(
    ([name, spec]) => [spec.flag, ...(spec.aliases ?? [])].map((flag) => [flag, name] as const),
  ),
);

/** The config file to read: `--config` if given (it must exist), else the first one found. */
export function findConfigFile(
  explicitPath: string | undefined,
  searchDirs: readonly string[],
): string | undefined {
  if (explicitPath) {
    const path = resolve(explicitPath);
    if (!existsSync(path))
      throw new ConfigError('FILE_NOT_FOUND', `config file ${path}: not found`);
    return path;
  }
  for (const dir of searchDirs) {
    for (const name of CONFIG_NAMES) {
      const path = join(dir, name);
      if (existsSync(path) && statSync(path).isFile()) return path;
    }
  }
  return undefined;
}

/**
 * Reads a YAML or JSON config file whose keys are flag names. Anything wrong stops start-up naming
 * the file and key: a server must never quietly start with defaults (the memory signer).
 */
export function readConfigFile(path: string): ConfigLayer {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'FILE_UNREADABLE',
      `${source}: cannot read: ${(error as Error).message}`,
      {
        cause: error,
      },
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
    // File-only keys (docs/configuration.md, "Profiles"): lists of mappings, not flags.
    if (key === 'profiles') {
      layer.profiles = value;
      continue;
    }
    if (key === 'previous-chains') {
      layer.previousChains = value;
      continue;
    }
    const name = OPTION_BY_FLAG.get(key);
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
