import pg from 'pg';
import { CONNECT_TIMEOUT_MS } from './connection.js';
import { LedgerError } from './errors.js';

/**
 * pg-pool's error when no connection of the pool became free in time (a checkout wait): the
 * process was busy, not the database down. A database that does not answer a new connection is
 * "Connection terminated due to connection timeout" instead, with a cause.
 */
export function isCheckoutTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'timeout exceeded when trying to connect';
}

/**
 * How long a log read waits for one of the read pool's connections before it is refused (BUSY).
 * pg applies the same bound to opening a connection, so it is the commits' (CONNECT_TIMEOUT_MS):
 * less would turn a database slow to accept connections (TLS far away) into 503s for every read.
 */
export const READ_CHECKOUT_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

/**
 * The pool of the log's public read routes, apart from the commits': a flood of reads waits for
 * these connections only, then fails fast with LedgerError BUSY (the routes answer 503 with
 * Retry-After), and never holds up a commit, the probe or the sequencer.
 */
export function newReadPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ ...config, connectionTimeoutMillis: READ_CHECKOUT_TIMEOUT_MS });
  pool.on('error', () => undefined);
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  // The readers use the promise form only (log-reader.ts, log-store.ts).
  pool.query = (async (...args: unknown[]) => {
    try {
      return await query(...args);
    } catch (error) {
      if (isCheckoutTimeout(error)) {
        throw new LedgerError('BUSY', 'the log is busy: every read connection is in use', {
          cause: error,
        });
      }
      throw error;
    }
  }) as pg.Pool['query'];
  return pool;
}

/** pg's rejection of a statement sent on a client whose connection already failed. */
const NOT_QUERYABLE = 'Client has encountered a connection error and is not queryable';

/**
 * Runs `work` on a connection checked out of `pool` and gives it back, dropped when `work` failed
 * (a transaction still open ends with it, rolled back). A checked-out client has none of the
 * pool's listeners: a connection cut meanwhile with no word from the server (a reset, a host gone)
 * would be an uncaught 'error' that ends the process. `work`'s query rejects too, and says so.
 * A connection that fails between two of `work`'s statements (the server ends the session: a
 * failover, pg_terminate_backend, an idle timeout) rejects the next one with pg's bare
 * NOT_QUERYABLE, no code: the connection's own error, with the server's SQLSTATE or the socket's
 * errno, is thrown instead, so that it is classified as what it was (an outage, not a fault).
 */
export async function withClient<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // The first one: the server's FATAL comes before pg's "Connection terminated unexpectedly".
  let failure: Error | undefined;
  const keep = (error: Error) => void (failure ??= error);
  client.on('error', keep);
  let broken = false;
  try {
    return await work(client);
  } catch (error) {
    broken = true;
    throw failure !== undefined && error instanceof Error && error.message === NOT_QUERYABLE
      ? failure
      : error;
  } finally {
    client.off('error', keep);
    client.release(broken);
  }
}
