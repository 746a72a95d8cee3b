import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CliError } from './output.js';

/** Environment variables are TIMESTAMP_ + the flag name, dashes as underscores (Go's viper setup). */
export function envName(flag: string): string {
  return `TIMESTAMP_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** `--config`, else the first of $HOME/.timestamp.{yaml,yml,json} that exists. */
function configPath(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  return ['yaml', 'yml', 'json']
    .map((ext) => join(homedir(), `.timestamp.${ext}`))
    .find((path) => existsSync(path));
}

/**
 * Fills options neither given as a flag nor from the environment with the config file's values
 * (keys are flag names), passing them through each option's own parser so they are validated as
 * flags are. Precedence: flag > environment > config file > default.
 */
export function applyConfigFile(explicitPath: string | undefined, commands: Command[]): void {
  const path = configPath(explicitPath);
  if (!path) return;
  let values: unknown;
  try {
    values = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(
      'CONFIG_FILE',
      `error reading config file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (values === null || values === undefined) return;
  if (typeof values !== 'object' || Array.isArray(values))
    throw new CliError('CONFIG_FILE', `config file ${path} is not a mapping`);
  const entries = values as Record<string, unknown>;
  for (const command of commands) {
    // An option's spellings (timestamp_server, timestamp-server) share one attribute.
    const keyOf = new Map<string, string>();
    for (const option of command.options) {
      const key = option.long?.replace(/^--/, '');
      if (!key || !(key in entries)) continue;
      const name = option.attributeName();
      const other = keyOf.get(name);
      if (other !== undefined)
        throw new CliError(
          'CONFIG_FILE',
          `config file ${path}: ${other} and ${key} are one option: set it once`,
        );
      keyOf.set(name, key);
      const source = command.getOptionValueSource(name);
      if (source === 'cli' || source === 'env') continue;
      const raw = configText(path, key, entries[key]);
      command.setOptionValueWithSource(name, parseConfigValue(path, key, raw, option), 'config');
    }
  }
}

/** Keys whose value may be a secret (a PIN in a key URI): an error never shows it. */
const SECRET_KEY = /key|pin|password|secret|token|credential/i;

/** A value as the text a flag would give; a list, a mapping or nothing is refused. */
function configText(path: string, key: string, value: unknown): string {
  if (value === null || value === undefined)
    throw new CliError('CONFIG_FILE', `config file ${path}: ${key} has no value`);
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    throw new CliError(
      'CONFIG_FILE',
      `config file ${path}: ${key} is not a string, number or boolean`,
    );
  return String(value);
}

/**
 * `raw` through the option's own parser, as a flag's value; a refusal names the file and the key
 * (commander's InvalidArgumentError inside a hook would end the command with no message at all).
 */
function parseConfigValue(path: string, key: string, raw: string, option: Option): unknown {
  if (!option.parseArg) return raw;
  try {
    return option.parseArg(raw, undefined);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const why =
      SECRET_KEY.test(key) && raw !== ''
        ? error.message.replaceAll(raw, '(value not shown)')
        : error.message;
    throw new CliError('CONFIG_FILE', `config file ${path}: invalid value for ${key}: ${why}`, {
      cause: error,
    });
  }
}
