import { CodedError } from '../errors.js';

/** What keeps the HTTP side from serving: its TLS files, a listener address, the audit log. */
export type ServerErrorCode =
  | 'TLS_FILE_UNREADABLE'
  | 'INVALID_TLS_CERTIFICATE'
  | 'INVALID_TLS_KEY'
  | 'TLS_KEY_MISMATCH'
  | 'INVALID_TLS_CA'
  | 'LISTEN_FAILED'
  | 'OPENAPI_NOT_FOUND'
  | 'AUDIT_LOG_CLOSED'
  | 'RATE_LIMITED';

export class ServerError extends CodedError<ServerErrorCode> {
  override name = 'ServerError';
}
