import { CodedError } from '../errors.js';

export type NtpConfigErrorCode =
  | 'FILE_UNREADABLE'
  | 'INVALID_YAML'
  | 'TOO_FEW_SERVERS'
  | 'NO_THRESHOLD'
  | 'DELTA_TOO_SMALL'
  | 'INVALID_ATTEMPTS'
  | 'INVALID_PERIOD'
  | 'INVALID_TIMEOUT'
  | 'INVALID_SERVER'
  | 'DUPLICATE_SERVER';

/** An NTP monitoring configuration the server refuses; the messages are Go's where Go has one. */
export class NtpConfigError extends CodedError<NtpConfigErrorCode> {
  override name = 'NtpConfigError';
}
