import { describe, expect, it } from 'vitest';
import { isTransientDatabaseError, LedgerError } from '../../../src/ledger/errors.js';
import { TlogError } from '../../../src/tlog/errors.js';

/** An error as pg or Node raise them: a message and, maybe, a code. */
const raised = (message: string, code?: string) =>
  Object.assign(new Error(message), code === undefined ? {} : { code });

describe('isTransientDatabaseError: a 503 to retry, or a fault', () => {
  it.each([
    ['every read connection in use', new LedgerError('BUSY', 'busy')],
    ['the database unavailable', new LedgerError('UNAVAILABLE', 'down')],
    ['connection refused', raised('connect ECONNREFUSED /tmp/.s.PGSQL.5432', 'ECONNREFUSED')],
    ['connection reset', raised('read ECONNRESET', 'ECONNRESET')],
    // A resolver restarting (CoreDNS in Kubernetes): a name that resolves again in a moment.
    ['a name not resolved for now', raised('getaddrinfo EAI_AGAIN db', 'EAI_AGAIN')],
    ['admin shutdown', raised('terminating connection due to administrator command', '57P01')],
    ['the database starting up', raised('the database system is starting up', '57P03')],
    // A session the database ended for idling (the probe's trial sets the first on itself): the
    // next connection is a new one.
    [
      'a transaction idle too long',
      raised('terminating connection due to idle-in-transaction timeout', '25P03'),
    ],
    [
      'a session idle too long',
      raised('terminating connection due to idle-session timeout', '57P05'),
    ],
    ['too many connections', raised('sorry, too many clients already', '53300')],
    [
      'a query cancelled at its timeout',
      raised('canceling statement due to statement timeout', '57014'),
    ],
    ['a connection exception', raised('connection failure', '08006')],
    // A password rotated on the database first: mended once the password file has it.
    ['a login refused', raised('password authentication failed for user "tsa"', '28P01')],
    ['a pool checkout wait', raised('timeout exceeded when trying to connect')],
    ['a connection that ended', raised('Connection terminated unexpectedly')],
    // A statement sent on a connection that had failed (withClient throws that failure instead).
    [
      'a connection that had failed',
      raised('Client has encountered a connection error and is not queryable'),
    ],
    // pg's query_timeout: the database stopped answering (SIGSTOP, a partition).
    ['a query the database never answered', raised('Query read timeout')],
  ])('%s: transient', (_what, error) => {
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    [
      'the log disagreeing with itself',
      new LedgerError('INCONSISTENT', 'stored hash 3 is missing'),
    ],
    [
      'an entry too large for a bundle',
      new TlogError('BAD_ENTRY_BUNDLE', 'entry of 70689 bytes exceeds 65535'),
    ],
    ['a fault of ours', new TypeError("Cannot read properties of undefined (reading 'hash')")],
    ['an assertion of ours', raised('The expression evaluated to a falsy value', 'ERR_ASSERTION')],
    ['a missing table', raised('relation "tsa_log_hashes" does not exist', '42P01')],
    ['the database dropped', raised('terminating connection due to dropped database', '57P04')],
    // A login refused for another reason than its password: pg_hba.conf, a role that may not log in.
    ['a login refused by pg_hba.conf', raised('no pg_hba.conf entry for host "10.0.0.1"', '28000')],
    // The database answers and refuses the statement: the ledger's commits fail as a fault.
    ['a privilege revoked', raised('permission denied for table tsa_ledger', '42501')],
    [
      'a constraint the row breaks',
      raised(
        'null value in column "x" of relation "tsa_ledger" violates not-null constraint',
        '23502',
      ),
    ],
    ['a data error', raised('invalid input syntax for type json', '22P02')],
    ['not an error at all', 'boom'],
  ])('%s: a fault (500)', (_what, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});
