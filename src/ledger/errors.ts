import { CodedError } from '../errors.js';

/**
 * UNAVAILABLE: the database cannot be reached or did not answer (an outage; retried by itself).
 * SCHEMA: the database holds a ledger schema this version does not know.
 * CONFIG: --ledger-url or --ledger-password-file cannot be used.
 * KEY: --ledger-key cannot be read or is not an Ed25519 key.
 * INCONSISTENT: the log's stored state disagrees with itself (never signed).
 * BUSY: every connection for the log's reads is in use (the database is not down): answer 503
 *   with Retry-After, and retry.
 */
export type LedgerErrorCode = 'UNAVAILABLE' | 'SCHEMA' | 'CONFIG' | 'KEY' | 'INCONSISTENT' | 'BUSY';

export class LedgerError extends CodedError<LedgerErrorCode> {
  override name = 'LedgerError';
}
