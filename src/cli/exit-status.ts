import { ConfigError, type ConfigErrorCode } from '../config/config-error.js';
import { CliError, type CliErrorCode } from './timestamp-cli/output.js';
import { terminalText } from './terminal-text.js';

/** The exit statuses of timestamp-server and timestamp-cli (docs/cli.md, "Exit status"). */
export const EXIT_STATUS = {
  ok: 0,
  /** The command failed: start-up, a request, a verification. */
  failed: 1,
  /** timestamp-server refused its command line or configuration before starting anything. */
  config: 2,
} as const;
export type ExitStatus = (typeof EXIT_STATUS)[keyof typeof EXIT_STATUS];

/** Every ConfigError code; a new code must choose its status here. */
const CONFIG_STATUS: Record<ConfigErrorCode, ExitStatus> = {
  INVALID_VALUE: EXIT_STATUS.config,
  CONFLICTING_OPTIONS: EXIT_STATUS.config,
  OPTION_MISSING: EXIT_STATUS.config,
  UNSUPPORTED_OPTION: EXIT_STATUS.config,
  UNKNOWN_KEY: EXIT_STATUS.config,
  FILE_NOT_FOUND: EXIT_STATUS.config,
  FILE_UNREADABLE: EXIT_STATUS.config,
  FILE_INVALID: EXIT_STATUS.config,
  // Two spellings of one secret: refused up front (config/signer-config.ts), and a configuration
  // error even where the signer is the first to find it.
  SECRET_CONFLICT: EXIT_STATUS.config,
  // Read when the signer starts, as in the Go server: a start-up failure like any other.
  SECRET_UNREADABLE: EXIT_STATUS.failed,
};

/** Every CliError code; all are failures of the command, as in the Go CLI (cobra exits 1). */
const CLI_STATUS: Record<CliErrorCode, ExitStatus> = {
  USAGE: EXIT_STATUS.failed,
  CONFIG_FILE: EXIT_STATUS.failed,
  INVALID_PEM: EXIT_STATUS.failed,
  REQUEST_FAILED: EXIT_STATUS.failed,
  SERVER_REFUSED: EXIT_STATUS.failed,
  INVALID_RESPONSE: EXIT_STATUS.failed,
  VERIFICATION_FAILED: EXIT_STATUS.failed,
  FILE: EXIT_STATUS.failed,
};

/** The exit status for the error that ends a command; any error without a table entry is 1. */
export function exitStatusOf(error: unknown): ExitStatus {
  if (error instanceof ConfigError) return CONFIG_STATUS[error.code];
  if (error instanceof CliError) return CLI_STATUS[error.code];
  return EXIT_STATUS.failed;
}

/**
 * The one line a command prints for the error that ends it: its message, never a stack, with
 * control characters escaped (\x1b, \x0a …): a message may quote a server's text, and a terminal
 * would obey its escape sequences or show its line breaks as lines of ours.
 */
export function errorLine(error: unknown): string {
  return terminalText(error instanceof Error ? error.message : String(error));
}
