import { homedir } from 'node:os';
import { findConfigFile, readConfigFile } from './config-file.js';
import { readEnvironment } from './environment.js';
import { readImageDefaults } from './image-defaults.js';
import { resolveLayers, type ConfigLayer, type ConfigValues } from './resolve.js';
import type { ServeConfig } from './schema.js';

export interface LoadOptions {
  /** Values given as flags (commander's parsed options; unknown keys are ignored). */
  flags: ConfigValues;
  /** `--config`. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where a config file is looked for when `--config` is absent: $HOME, then the working directory. */
  searchDirs?: readonly string[];
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
  const configFile = findConfigFile(options.configPath, searchDirs);
  const layers: ConfigLayer[] = [readImageDefaults(env)];
  if (configFile) layers.push(readConfigFile(configFile));
  layers.push(readEnvironment(env));
  layers.push({ source: 'flags', values: options.flags });
  return { ...resolveLayers(layers), configFile };
}
