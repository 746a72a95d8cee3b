import type { Command, CommanderError } from 'commander';
import { parseGoBool } from '../config/go-bool.js';
import { EXIT_STATUS, type ExitStatus } from './exit-status.js';

/** The full name of a command, as typed: `timestamp-server serve`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * After a usage error, each command (and its subcommands) prints one line pointing at its own help,
 * `(see timestamp-server serve --help)`, instead of the whole help text: the error line (with
 * commander's "Did you mean" hint) stays the last thing read. An unknown `--flag=value` is named
 * without its value, which may be a secret under a mistyped name (`--pasword=…`). Call it once
 * every command is added.
 */
export function pointToHelpAfterErrors(command: Command): void {
  command.showHelpAfterError(`(see ${commandPath(command)} --help)`);
  command.configureOutput({ outputError: (text, write) => write(withoutOptionValue(text)) });
  for (const subcommand of command.commands) pointToHelpAfterErrors(subcommand);
}

/**
 * commander's `error: unknown option '<flag>'` (and its hint) with the flag cut at its `=`; the
 * flag is taken up to the line's last quote, so a value holding quotes or newlines is cut whole.
 */
const UNKNOWN_OPTION = /^error: unknown option '(.*)'(\n\(Did you mean [^)\n]*\))?\n?$/s;

export function withoutOptionValue(text: string): string {
  const unknown = UNKNOWN_OPTION.exec(text);
  const flag = unknown?.[1];
  if (flag === undefined || !flag.includes('=')) return text;
  return `error: unknown option '${flag.slice(0, flag.indexOf('='))}'${unknown?.[2] ?? ''}\n`;
}

/**
 * commander's error for arguments given to a command that takes none, and, where the first one
 * spells a boolean right after a boolean flag alone (`--use-http-201 false`), how that value is
 * written: a boolean flag reads its value only after `=`, in Go's pflag as here (Go's serve would
 * take the flag as true and ignore the word). `typed` is the command line as typed.
 */
export function excessArgumentsMessage(
  command: Command,
  typed: readonly string[],
  isBooleanFlag: (token: string) => boolean,
): string {
  const { args } = command;
  const message = `error: too many arguments for '${command.name()}'. Expected 0 arguments but got ${args.length}.`;
  const [first = ''] = args;
  if (parseGoBool(first) === undefined) return message;
  const flag = typed.find((token, at) => typed[at + 1] === first && isBooleanFlag(token));
  return flag
    ? `${message}\n(a boolean flag takes its value after '=': ${flag}=${first})`
    : message;
}

/** commander's own usage errors: an unknown flag or command, a missing or invalid value. */
const USAGE_ERRORS = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.excessArguments',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.conflictingOption',
  'commander.invalidArgument',
  // No command given: the help is printed to stderr instead.
  'commander.help',
]);

/**
 * timestamp-server's status for how commander ended: 0 for --help and version, 2 (the
 * configuration is refused) for a usage error, else the status given to `command.error`.
 */
export function serverExitStatusOf(error: CommanderError): ExitStatus | number {
  if (error.exitCode === 0) return EXIT_STATUS.ok;
  if (USAGE_ERRORS.has(error.code)) return EXIT_STATUS.config;
  return error.exitCode;
}

/** Makes commander throw instead of exiting, for this command and its subcommands. */
export function throwInsteadOfExit(command: Command): void {
  command.exitOverride();
  for (const subcommand of command.commands) throwInsteadOfExit(subcommand);
}
