import { mkdirSync } from 'node:fs';
import { expect, onTestFinished } from 'vitest';
import { loadServeConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/resolve.js';
import { tempDir } from './openssl.js';

/**
 * The configuration from `env` and, if `text` is given, a config file holding it (tsa.yaml, in a
 * folder removed once read), without flags, $HOME or the working directory. `configPath` is where
 * the file was, as messages name it.
 */
export function loadFromEnvAndFile(env: NodeJS.ProcessEnv, text?: string) {
  const dir = tempDir();
  try {
    const configPath = text === undefined ? undefined : dir.write('tsa.yaml', text);
    return { configPath, ...loadServeConfig({ flags: {}, env, configPath, searchDirs: [] }) };
  } finally {
    dir.cleanup();
  }
}

/** The ConfigError `run` throws; fails the test if it throws none or another error. */
export function configRefusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/**
 * A temporary folder with empty `home/` and `cwd/` (the $HOME and working directory a config file
 * is searched in), removed when the test ends.
 */
export function configWorkspace() {
  const dir = tempDir();
  onTestFinished(() => dir.cleanup());
  mkdirSync(dir.path('home'));
  mkdirSync(dir.path('cwd'));
  return dir;
}
