import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { ConfigError } from '../../config/config-error.js';
import { readYaml } from '../../config/yaml-document.js';
import { CliError } from './output.js';

/** Environment variables are TIMESTAMP_ + the flag name, dashes as underscores (Go's viper setup). */
export function envName(flag: string): string {
  return `TIMESTAMP_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Unsets every empty TIMESTAMP_* variable of `env`, for commander counts a variable that is set at
 * all: the Go CLI's viper ignores an empty one (AllowEmptyEnv is false), so `TIMESTAMP_FORMAT=`
 * keeps the default, where it would be an invalid value.
 */
export function unsetEmptyVariables(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('TIMESTAMP_') && value === '') delete env[name];
  }
}

/** `--config`, else the first of $HOME/.timestamp.{yaml,yml,json} that exists. */
function configPath(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  return ['yaml', 'yml', 'json']
    .map((ext) => join(homedir(), `.timestamp.${ext}`))
    .find((path) => existsSync(path));
}

/**
 * Reads the config file (keys are flag names) into the program's options: precedence flag >
 * environment > config file > default. Before a subcommand parses its arguments, every option
 * that neither a flag nor the environment has set gets the file's value as text, with source
 * 'config': commander then lets the subcommand's flags and environment replace it, and counts it
 * for a required option (checked before any preAction hook). Before the action, the values still
 * from the file go through their options' parsers, so only the values used are checked.
 */
export function useConfigFile(program: Command): void {
  let config: ConfigFile | undefined;
  program.hook('preSubcommand', (_program, subcommand) => {
    config = ConfigFile.read(program.opts<{ config?: string }>().config);
    config?.preset([program, ...withSubcommands(subcommand)]);
  });
  program.hook('preAction', (_program, action) => {
    for (let command: Command | null = action; command; command = command.parent)
      config?.parse(command);
  });
}

/** `command` and all its subcommands, at any depth (`certificates create`). */
function withSubcommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(withSubcommands)];
}

class ConfigFile {
  /** The key each preset option's value came from, by command and option attribute. */
  private readonly keys = new Map<Command, Map<string, { key: string; option: Option }>>();

  private constructor(
    private readonly path: string,
    private readonly values: Record<string, unknown>,
  ) {}

  static read(explicitPath: string | undefined): ConfigFile | undefined {
    const path = configPath(explicitPath);
    if (!path) return undefined;
    let values: unknown;
    try {
      // The server's reader: errors by position, never quoting a line (it may hold a secret), and
      // unquoted numbers kept as written (a policy OID 1.20 is not 1.2, a nonce not a float).
      values = readYaml(readFileSync(path, 'utf8'), `config file ${path}`).value;
    } catch (error) {
      const why =
        error instanceof ConfigError
          ? error.message
          : `config file ${path}: ${String((error as NodeJS.ErrnoException).code ?? error)}`;
      throw new CliError('CONFIG_FILE', `error reading ${why}`, { cause: error });
    }
    if (values === null || values === undefined) return undefined;
    if (typeof values !== 'object' || Array.isArray(values))
      throw new CliError('CONFIG_FILE', `config file ${path} is not a mapping`);
    return new ConfigFile(path, values as Record<string, unknown>);
  }

  /** Sets, unparsed, each option of `commands` that no flag or environment variable has set. */
  preset(commands: Command[]): void {
    for (const command of commands) {
      // An option's spellings (timestamp_server, timestamp-server) share one attribute.
      const keys = new Map<string, { key: string; option: Option }>();
      this.keys.set(command, keys);
      for (const option of command.options) {
        const key = option.long?.replace(/^--/, '');
        if (!key || !Object.hasOwn(this.values, key)) continue;
        const name = option.attributeName();
        const other = keys.get(name);
        if (other !== undefined)
          throw new CliError(
            'CONFIG_FILE',
            `config file ${this.path}: ${other.key} and ${key} are one option: set it once`,
          );
        keys.set(name, { key, option });
        const source = command.getOptionValueSource(name);
        if (source === 'cli' || source === 'env') continue;
        command.setOptionValueWithSource(name, this.values[key], 'config');
      }
    }
  }

  /** Parses the values of `command` still from the file, as its flags' values are parsed. */
  parse(command: Command): void {
    const keys = this.keys.get(command);
    for (const [name, { key, option }] of keys ?? []) {
      keys?.delete(name); // parsed once
      if (command.getOptionValueSource(name) !== 'config') continue;
      const raw = configText(this.path, key, command.getOptionValue(name));
      command.setOptionValueWithSource(
        name,
        parseConfigValue(this.path, key, raw, option),
        'config',
      );
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
