import { CodedError } from '../errors.js';

/**
 * UNAVAILABLE: the database cannot be reached or did not answer (an outage; retried by itself).
 * SCHEMA: the database holds a ledger schema this version does not know.
 * CONFIG: --ledger-url or --ledger-password-file cannot be used (with --ledger-key, a database
 *   that cannot store a checkpoint note's text unchanged).
 * KEY: --ledger-key cannot be read or is not an Ed25519 key, or what it signs does not verify with
 *   its public key.
 * INCONSISTENT: the log's stored state disagrees with itself (never signed).
 * BUSY: every connection for the log's reads is in use (the database is not down): answer 503
 *   with Retry-After, and retry.
 */
export type LedgerErrorCode = 'UNAVAILABLE' | 'SCHEMA' | 'CONFIG' | 'KEY' | 'INCONSISTENT' | 'BUSY';

export class LedgerError extends CodedError<LedgerErrorCode> {
  override name = 'LedgerError';
}

/**
 * SQLSTATE classes and codes of a database that is away or overloaded for now, not broken; a
 * session the server ended for idling (25P03 idle_in_transaction_session_timeout, which the
 * probe's trial commit sets on itself; 57P05 idle_session_timeout): the next connection is a new
 * one; and 28P01, a password refused: rotated on one side first (--ledger-password-file is read
 * again for each connection).
 */
const TRANSIENT_SQLSTATE = /^(08|25P03|28P01|53|57P0[1235]|57014|40001|40P01|55P03)/;
/**
 * A Node system error (ECONNREFUSED, ENOTFOUND; getaddrinfo's EAI_AGAIN, a resolver restarting):
 * the network, for now. Not Node's own ERR_ codes (ERR_ASSERTION: a fault of ours).
 */
const NODE_ERRNO = /^(E[A-Z]+|EAI_AGAIN)$/;

/**
 * pg's own errors, without a code: a connection that ended or did not open in time, a statement
 * sent on a connection that had failed (withClient throws that failure instead, where it has it),
 * or a query the database did not answer within the client's query_timeout (it stopped answering:
 * SIGSTOP, a partition; a live database cancels it first, 57014, at its statement_timeout).
 */
const PG_TRANSIENT =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable$|Query read timeout$)/;

/**
 * Whether `error` says the database is unavailable for now (unreachable, restarting, overloaded,
 * a query cancelled at its timeout, every connection in use): worth a retry, a 503. Anything else
 * (the log's data disagrees with itself, a fault of ours, a statement the database answers with
 * an error: a privilege, a missing table, a constraint) is not, whatever it says: a commit that
 * fails so refuses issuance as a fault, 500, until the ledger's probe finds a commit would succeed
 * (ledger.ts).
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof LedgerError) return error.code === 'BUSY' || error.code === 'UNAVAILABLE';
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return TRANSIENT_SQLSTATE.test(code) || NODE_ERRNO.test(code);
  return PG_TRANSIENT.test(error.message);
}
