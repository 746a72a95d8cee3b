import { homedir } from 'node:os';
import { holdsKeyMaterial } from '../shown-path.js';
import { findConfigFile, readConfigFile } from './config-file.js';
import { readEnvironment } from './environment.js';
import { readImageDefaults } from './image-defaults.js';
import { withoutUserinfo } from './key-uri.js';
import type { OptionSpec } from './option-spec.js';
import { MASK } from './print-config.js';
import { resolveLayers, type ConfigLayer, type ConfigValues } from './resolve.js';
import { SERVE_OPTIONS, type ServeConfig, type ServeOptionName } from './schema.js';

export interface LoadOptions {
  /** Values given as flags (commander's parsed options; unknown keys are ignored). */
  flags: ConfigValues;
  /** `--config`. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where a config file is looked for when `--config` is absent: $HOME, then the working directory. */
  searchDirs?: readonly string[];
  /** This program's path (process.argv[1]): a bare `timestamp-server` that is it is no config file. */
  program?: string;
}

export interface LoadedConfig {
  config: ServeConfig;
  /** The config file read, if any. */
  configFile: string | undefined;
  /** What the config rules warn about (values accepted with no effect here), for the CLI to print. */
  warnings: string[];
}

/** defaults < image defaults (TIMESTAMP_SERVER_DEFAULT_*) < config file < environment < flags. */
export function loadServeConfig(options: LoadOptions): LoadedConfig {
  const searchDirs = options.searchDirs ?? [homedir(), process.cwd()];
  const env = options.env ?? process.env;
  const program = options.program ?? process.argv[1];
  const configFile = findConfigFile(options.configPath, searchDirs, program);
  const file = configFile ? readConfigFile(configFile) : undefined;
  const environment = readEnvironment(env);
  const { config, warnings } = resolveLayers([
    readImageDefaults(env),
    ...(file ? [file] : []),
    environment,
    { source: 'flags', values: options.flags },
  ]);
  const overrides = file ? environmentOverrides(file, environment) : [];
  return { config, warnings: [...overrides, ...warnings], configFile };
}

/**
 * A warning for each option that both the config file and the environment set: the environment
 * wins, and a variable not meant for this server (PORT from a hosting platform, HOST that tcsh
 * exports to every program) would otherwise override the file unseen. A secret's values are not
 * shown, nor the credentials of a URI (user:password@), as --print-config masks them.
 */
function environmentOverrides(file: ConfigLayer, environment: ConfigLayer): string[] {
  const options = Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][];
  return options
    .filter(([name]) => file.values[name] !== undefined && environment.values[name] !== undefined)
    .map(([name, spec]) => {
      const variable = environment.nameOf?.(spec) ?? spec.flag;
      const what =
        spec.secret || spec.secretFile
          ? `${variable} overrides ${spec.flag} of ${file.source} (values not shown: secret)`
          : `${variable}=${shown(environment.values[name])} overrides ${spec.flag}: ${shown(file.values[name])} of ${file.source}`;
      return `environment variable ${what}: the environment wins over a config file; unset ${variable} to use the file's`;
    });
}

const shown = (value: unknown): string =>
  holdsKeyMaterial(value)
    ? JSON.stringify(MASK)
    : JSON.stringify(typeof value === 'string' ? withoutUserinfo(value, MASK) : value);
