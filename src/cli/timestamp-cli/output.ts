import { CodedError } from '../../errors.js';

/** Where command output goes; injectable so tests and the process share one path. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** What a timestamp-cli command failed on; cli/exit-status.ts maps each to an exit status. */
export type CliErrorCode =
  /** Flags that do not go together (commander reports the other usage errors itself). */
  | 'USAGE'
  /** The --config file cannot be read or is not a mapping. */
  | 'CONFIG_FILE'
  | 'INVALID_PEM'
  /** The server could not be reached, or did not answer in time. */
  | 'REQUEST_FAILED'
  /** The server refused the request (an HTTP error or a rejection TimeStampResp). */
  | 'SERVER_REFUSED'
  /** The answer is not a usable timestamp response, or not for this request. */
  | 'INVALID_RESPONSE'
  | 'VERIFICATION_FAILED'
  /** A file the command reads or writes: unreadable, too large, or not writable there. */
  | 'FILE';

/** An error whose message is the whole user-facing text (no stack). */
export class CliError extends CodedError<CliErrorCode> {
  override name = 'CliError';
}

/**
 * A file error's reason without the syscall and path Node appends ("EISDIR: illegal operation on
 * a directory", not "…, read"): the caller names the user's path, never a temporary file's.
 */
export function fileErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const { code, syscall } = error as NodeJS.ErrnoException;
  const at = syscall === undefined ? -1 : message.lastIndexOf(`, ${syscall}`);
  return code !== undefined && at > 0 ? message.slice(0, at) : message;
}

/** Go's time.Time.String() in UTC: "2025-01-02 03:04:05 +0000 UTC". */
export function goTimeString(date: Date): string {
  const [day, time] = date.toISOString().replace('Z', '').split('T') as [string, string];
  return `${day} ${time.replace(/\.?0+$/, '')} +0000 UTC`;
}
