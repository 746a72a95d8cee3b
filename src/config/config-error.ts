import { CodedError } from '../errors.js';

/** What is wrong with a configuration; cli/exit-status.ts maps each code to an exit status. */
export type ConfigErrorCode =
  /** A value of the wrong type, outside its bounds, or not one of its choices. */
  | 'INVALID_VALUE'
  /** Options that cannot be set together, or one that needs another. */
  | 'CONFLICTING_OPTIONS'
  /** An option the others require is not set. */
  | 'OPTION_MISSING'
  /** A Go option value this server cannot honour. */
  | 'UNSUPPORTED_OPTION'
  /** A config file key that names no option. */
  | 'UNKNOWN_KEY'
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  /** The config file is not YAML, not a mapping, or of a type only the Go server reads (TOML …). */
  | 'FILE_INVALID'
  /** A secret given both inline and as a file (found when the signer starts). */
  | 'SECRET_CONFLICT'
  /** A secret file that cannot be read (found when the signer starts). */
  | 'SECRET_UNREADABLE';

/** A configuration the server refuses to start with; the CLI prints its message in one line. */
export class ConfigError extends CodedError<ConfigErrorCode> {
  override name = 'ConfigError';
}
