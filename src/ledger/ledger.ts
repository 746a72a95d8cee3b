import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MAX_ENTRY_OCTETS } from '../tlog/tile.js';
import { RecordError } from '../tsp/authority.js';
import { reject } from '../tsp/rejection.js';
import { isTransientDatabaseError, LedgerError } from './errors.js';
import type { LedgerEntry } from './entry.js';
import { ledgerBatchSize, ledgerCommitsTotal, watchLedger } from './ledger-metrics.js';
import { isCheckoutTimeout, withClient } from './pools.js';
import { migrate } from './schema.js';

/** Rows in one INSERT at most; more wait for the next commit. */
export const MAX_BATCH = 500;
/**
 * Tokens waiting for a commit at most (besides the batch being committed): beyond, record()
 * refuses at once (LEDGER_BUSY) and the issuance guard refuses to sign, rather than queue tokens
 * that would wait several commit timeouts only to be thrown away.
 */
export const MAX_PENDING = 4 * MAX_BATCH;
/** Why a token is refused while MAX_PENDING tokens wait for a commit. */
export const LEDGER_BUSY = 'the ledger is busy: too many tokens are waiting for a commit';
/** When to retry a token refused behind a full commit queue: it drains within a few commits. */
export const BUSY_RETRY_MS = 1_000;
/**
 * Commits retried at once after a serialization failure or a deadlock (40001, 40P01: the
 * statement was rolled back, nothing was written), in a row, before the batch is withheld.
 */
export const MAX_CONFLICT_RETRIES = 5;
/** How often the database is probed while it is down (and while it is up, to notice an outage). */
export const PROBE_INTERVAL_DOWN_MS = 500;
export const PROBE_INTERVAL_UP_MS = 2_000;
/**
 * How often the probe tries a commit (rolled back) while commits fail with a definite error
 * (COMMITS_FAIL): each try that fails is an ERROR line in the database server's own log, and only
 * an operator mends it, so no faster than while up.
 */
export const PROBE_INTERVAL_FAILING_MS = 2_000;

const UNIQUE_VIOLATION = '23505';
const INVALID_PASSWORD = '28P01';
/** serialization_failure and deadlock_detected: another transaction won; try again. */
const CONFLICT = new Set(['40001', '40P01']);
/** read_only_sql_transaction: a standby, or default_transaction_read_only on. */
const READ_ONLY_TRANSACTION = '25006';
/**
 * Why issuance is refused while the database answers but takes no writes (a failover left the
 * URL on a standby): the probe keeps it refused until writes are taken again, no flapping.
 */
export const READ_ONLY = 'ledger database is read-only (a standby?)';
/** The constraint a serial number collision violates (schema.ts); any other is not one. */
const SERIAL_CONSTRAINT = 'tsa_ledger_serial_unique';
/** Batches retried after separating taken serial numbers, in one flush, before failing them. */
export const MAX_COLLISION_RETRIES = 3;
/** Why issuance is refused while the counter row is not after the ledger's last log index. */
export const COUNTER_BEHIND = 'ledger counter row is behind the ledger (tsa_ledger_counter)';
/**
 * Why issuance is refused while the counter row is behind the log's latest checkpoint: the ledger
 * was restored from an older backup than the log (a partial restore), and new tokens would take
 * log indexes that the signed checkpoints already commit to other tokens.
 */
export const COUNTER_BEHIND_LOG =
  "ledger counter row is behind the log's latest checkpoint (tsa_ledger_counter, tsa_log_checkpoints)";
/**
 * How the reason starts while commits fail with a definite error, one that says the database
 * answers but refuses the commit and will until someone changes it (a privilege revoked, a table
 * or column missing, a constraint or a type changed): followed by the error's SQLSTATE, e.g.
 * `ledger commits fail (SQLSTATE 42501)` (the database's message is in the log line only).
 */
export const COMMITS_FAIL = 'ledger commits fail';
/**
 * How the reason starts while the database refuses the ledger's password (SQLSTATE 28P01), e.g.
 * `ledger database refuses the login (SQLSTATE 28P01)`.
 */
export const LOGIN_REFUSED = 'ledger database refuses the login';

interface Pending {
  entry: LedgerEntry;
  resolve: (receipt: LedgerReceipt) => void;
  reject: (error: unknown) => void;
}

/**
 * Why issuance is refused. `temporary`: it ends by itself (an outage, a failover, a password
 * rotation), so refusals are HTTP 503 with Retry-After; else 500, since it takes a repair.
 * `failing`: the database answers and refuses, the commit (COMMITS_FAIL) or the login
 * (LOGIN_REFUSED): probed less often (PROBE_INTERVAL_FAILING_MS).
 */
interface Refusal {
  reason: string;
  temporary: boolean;
  failing?: boolean;
}

/** Where a committed token is: its log index (gapless, in commit order across replicas). */
export interface LedgerReceipt {
  index: number;
}

export interface LedgerLogger {
  info(message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * The issuance ledger: every granted token committed to PostgreSQL before it is sent.
 *
 * Group commit: tokens recorded while a commit is under way wait and go out together in the next
 * one, as one INSERT (one implicit transaction, one WAL flush), so N concurrent requests cost
 * about one commit. The INSERT takes its log indexes from the one-row counter table in the same
 * statement: the row lock serialises commits of all replicas, so indexes are gapless and follow
 * commit order (the transparency log's order).
 *
 * An outage (connection refused, timeout) fails the batch and every token queued behind it at
 * once (those tokens are withheld), and turns `unavailableReason()` on, which refuses issuance
 * (record() too) and turns /readyz red; a probe every PROBE_INTERVAL_DOWN_MS turns it off once
 * the database answers again. A serialization failure or deadlock (another replica's commit won)
 * is retried, never taken for an outage.
 *
 * Any other error of a commit (permission denied, a missing table or column, a constraint or data
 * error: the database answers, and refuses the commit) is no outage: it refuses issuance the same
 * way, as a fault (`unavailableIsTemporary()` false: HTTP 500, COMMITS_FAIL with the SQLSTATE).
 * Whatever the refusal, the probe lifts it only once the database would take a commit: it runs
 * the commit's own statement for a made-up row in a transaction that it rolls back (no index is
 * used, no row stays), so a probe that merely reads never ends a refusal that a commit would
 * bring back at once (no flapping between 500 and 503).
 */
export class Ledger {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private refusal: Refusal | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  /** Commits (INSERT statements) done so far, and rows in them. */
  commits = 0;
  rows = 0;
  /** Commits that failed (retried or not), whatever the reason. */
  failedCommits = 0;
  /** Commits retried after a serialization failure or deadlock. */
  conflicts = 0;
  /** Probes done so far, whatever their result. */
  probes = 0;

  private constructor(
    readonly pool: pg.Pool,
    private readonly logger: LedgerLogger,
  ) {
    // An idle client whose session ended (the server went away, or only ended an idle session:
    // idle_session_timeout, pg_terminate_backend, a pooler's idle cut): the pool drops it and the
    // next query reconnects. Whether the database is down is the probe's to say, at once.
    pool.on('error', () => this.probeNow());
    watchLedger(() => this.refusal === undefined);
    this.scheduleProbe();
  }

  /** Connects, creates the schema if needed; fails the start-up if the database is unreachable. */
  static async open(config: pg.PoolConfig, logger: LedgerLogger): Promise<Ledger> {
    const pool = new pg.Pool(config);
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      if (error instanceof LedgerError) throw error;
      throw new LedgerError(
        'UNAVAILABLE',
        `cannot prepare the ledger database: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
    return new Ledger(pool, logger);
  }

  /**
   * Why issuance must be refused now (the database is down, read-only, its counter row behind the
   * ledger or the log, or it refuses commits), or undefined.
   */
  unavailableReason(): string | undefined {
    return this.refusal?.reason;
  }

  /**
   * Whether that refusal ends by itself (an outage, a standby, a password being rotated): HTTP 503
   * with Retry-After. False for one that takes a repair (the counter row behind, commits refused:
   * a privilege, the schema), answered 500.
   */
  unavailableIsTemporary(): boolean {
    return this.refusal?.temporary ?? true;
  }

  /** Whether the queue is full (MAX_PENDING): record() refuses with LEDGER_BUSY meanwhile. */
  queueFull(): boolean {
    return this.pending.length >= MAX_PENDING;
  }

  /**
   * Resolves once `entry` is committed; rejects with a RecordError (the token is withheld), or
   * with a rejection for a token too large for the log's entry bundles: a token that could never
   * be published is refused, never committed (its tiles would fail for good).
   */
  record(entry: LedgerEntry): Promise<LedgerReceipt> {
    if (this.closed) {
      return Promise.reject(
        new RecordError('NOT_RECORDED', 'the ledger is closed', { temporary: true }),
      );
    }
    if (entry.token.length > MAX_ENTRY_OCTETS) {
      return Promise.reject(reject.tokenTooLarge(MAX_ENTRY_OCTETS));
    }
    // Refused (an outage, commits that fail): no commit would succeed before the probe says so.
    if (this.refusal !== undefined) {
      const { reason, temporary } = this.refusal;
      return Promise.reject(new RecordError('NOT_RECORDED', reason, { temporary }));
    }
    if (this.queueFull()) {
      return Promise.reject(
        new RecordError('NOT_RECORDED', LEDGER_BUSY, {
          temporary: true,
          retryInMs: BUSY_RETRY_MS,
          detail: LEDGER_BUSY,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      // flushLoop clears `flushing` in the same step as it finds the queue empty: a record() made
      // as soon as an earlier one resolved either finds the loop running or starts one.
      this.flushing ??= this.flushLoop();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    await this.flushing;
    await this.pool.end();
  }

  /**
   * Commits the queue until it is empty. `flushing` is cleared here, in the same synchronous step
   * as the test that finds the queue empty: cleared by an awaiting caller or a .finally(), one
   * microtask later, a record() in between would queue an entry that nobody commits.
   */
  private async flushLoop(): Promise<void> {
    let collisions = 0;
    let conflicts = 0;
    try {
      while (this.pending.length > 0) {
        const batch = takeBatch(this.pending);
        try {
          const indexes = await this.insert(batch.map((item) => item.entry));
          this.commits++;
          this.rows += batch.length;
          ledgerCommitsTotal.inc({ result: 'ok' });
          ledgerBatchSize.observe(batch.length);
          this.markUp();
          collisions = 0;
          conflicts = 0;
          batch.forEach((item, i) => item.resolve({ index: indexes[i]! }));
        } catch (error) {
          this.failedCommits++;
          const { code, constraint } = error as { code?: string; constraint?: string };
          if (
            code === UNIQUE_VIOLATION &&
            constraint === SERIAL_CONSTRAINT &&
            collisions++ < MAX_COLLISION_RETRIES
          ) {
            await this.separateTaken(batch);
            continue;
          }
          // Another transaction won (a database or role whose default isolation level is above
          // READ COMMITTED, where the connection's own setting did not reach it, e.g. through a
          // pooler): the statement was rolled back, so the batch is simply sent again.
          if (code !== undefined && CONFLICT.has(code) && conflicts++ < MAX_CONFLICT_RETRIES) {
            this.conflicts++;
            ledgerCommitsTotal.inc({ result: 'failed' });
            this.pending.unshift(...batch);
            continue;
          }
          ledgerCommitsTotal.inc({ result: 'failed' });
          const refusal = refusalFor(error);
          if (refusal) this.refuse(refusal, error);
          const failure = new RecordError('NOT_RECORDED', failureMessage(error, refusal), {
            cause: error,
            // Busy (no free connection, conflicts) or refused for now; a serial number that kept
            // colliding, or a refusal that takes a repair, is not.
            temporary: refusal ? refusal.temporary : isBusy(error),
          });
          for (const item of batch) item.reject(failure);
          // Refused: every token still queued would fail the same way, after a timeout each.
          if (this.refusal !== undefined) this.failPending(failure);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Rejects every queued token with `failure` (the database is known to be down). */
  private failPending(failure: RecordError): void {
    const pending = this.pending.splice(0);
    for (const item of pending) item.reject(failure);
  }

  /** One INSERT of the batch (on `client`, else the pool's); returns each entry's log index. */
  private async insert(
    entries: readonly LedgerEntry[],
    client: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<number[]> {
    const { rows } = await client.query<{ serial: Buffer; log_index: string }>(INSERT, [
      entries.length,
      entries.map((e) => e.serial),
      entries.map((e) => e.genTime.toISOString()),
      entries.map((e) => e.policy),
      entries.map((e) => e.hashAlgorithm),
      entries.map((e) => e.hashedMessage),
      entries.map((e) => e.token),
      entries.map((e) => (e.timeSource === undefined ? null : JSON.stringify(e.timeSource))),
    ]);
    if (rows.length === 0) throw await whyNoIndex(client);
    const bySerial = new Map(
      rows.map((row) => [row.serial.toString('hex'), Number(row.log_index)]),
    );
    return entries.map((e) => {
      const index = bySerial.get(Buffer.from(e.serial).toString('hex'));
      if (index === undefined) throw new LedgerError('INCONSISTENT', 'a row was not returned');
      return index;
    });
  }

  /**
   * A serial number of the batch is taken (by another replica, or twice in this batch): those
   * tokens are refused with SERIAL_NUMBER_TAKEN (issue() makes them again with new serial
   * numbers) and the others go back to the front of the queue.
   */
  private async separateTaken(batch: Pending[]): Promise<void> {
    const taken = new Set<string>();
    try {
      const { rows } = await this.pool.query<{ serial: Buffer }>(
        'SELECT serial FROM tsa_ledger WHERE serial = ANY($1::bytea[])',
        [batch.map((item) => item.entry.serial)],
      );
      for (const row of rows) taken.add(row.serial.toString('hex'));
    } catch (error) {
      const refusal = refusalFor(error);
      if (refusal) this.refuse(refusal, error);
      const failure = new RecordError('NOT_RECORDED', failureMessage(error, refusal), {
        cause: error,
        temporary: refusal ? refusal.temporary : isBusy(error),
      });
      for (const item of batch) item.reject(failure);
      if (this.refusal !== undefined) this.failPending(failure);
      return;
    }
    const seen = new Set<string>();
    const retry: Pending[] = [];
    for (const item of batch) {
      const hex = Buffer.from(item.entry.serial).toString('hex');
      if (taken.has(hex) || seen.has(hex)) {
        item.reject(new RecordError('SERIAL_NUMBER_TAKEN', 'serial number already in the ledger'));
      } else {
        seen.add(hex);
        retry.push(item);
      }
    }
    this.pending.unshift(...retry);
  }

  /** Refuses issuance for `refusal` until the probe lifts it; logs it when it is new. */
  private refuse(refusal: Refusal, error: unknown): void {
    if (this.closed) return;
    if (this.refusal?.reason !== refusal.reason) {
      this.logger.warn(
        { reason: describe(error) },
        refusal.reason === UNAVAILABLE
          ? 'ledger database unavailable: refusing issuance until it answers'
          : refusal.failing
            ? `${refusal.reason}: refusing issuance until a commit would succeed`
            : `${refusal.reason}: refusing issuance until it is repaired`,
      );
    }
    this.refusal = refusal;
    this.scheduleProbe();
  }

  private markUp(): void {
    if (this.refusal === undefined) return;
    const { failing } = this.refusal;
    this.refusal = undefined;
    this.logger.info(
      failing
        ? 'ledger commits succeed again: issuing'
        : 'ledger database available again: issuing',
    );
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(
      () => void this.probe(),
      this.refusal === undefined
        ? PROBE_INTERVAL_UP_MS
        : this.refusal.failing
          ? PROBE_INTERVAL_FAILING_MS
          : PROBE_INTERVAL_DOWN_MS,
    );
    this.probeTimer.unref();
  }

  /** Probes now (an idle connection ended), unless a probe is under way. */
  private probeNow(): void {
    if (this.closed || this.probing) return;
    clearTimeout(this.probeTimer);
    void this.probe();
  }

  /**
   * The probe: the database answers, takes writes and its counter row is after the last log
   * index and not behind the log's latest checkpoint; while issuance is refused, a trial commit
   * must succeed too before it is resumed.
   */
  private async probe(): Promise<void> {
    this.probing = true;
    try {
      const { rows } = await this.pool.query<{
        behind: boolean;
        behind_log: boolean;
        read_only: boolean;
      }>(PROBE);
      if (rows[0]?.read_only) {
        this.refuse(REFUSED_READ_ONLY, new LedgerError('UNAVAILABLE', READ_ONLY));
        return;
      }
      if (rows[0]?.behind) {
        this.refuse(REFUSED_COUNTER_BEHIND, new LedgerError('INCONSISTENT', COUNTER_BEHIND));
        return;
      }
      if (rows[0]?.behind_log) {
        this.refuse(
          REFUSED_COUNTER_BEHIND_LOG,
          new LedgerError('INCONSISTENT', COUNTER_BEHIND_LOG),
        );
        return;
      }
      if (this.refusal !== undefined) await this.trialCommit();
      this.markUp();
    } catch (error) {
      const refusal = refusalFor(error);
      // Busy (no free connection in time, a conflict): nothing learnt, the probe goes on (one
      // whose own checkout timed out would otherwise never run again).
      if (refusal) this.refuse(refusal, error);
      else this.scheduleProbe();
      return;
    } finally {
      this.probing = false;
      this.probes++;
    }
    this.scheduleProbe();
  }

  /**
   * A commit's INSERT, of a made-up row, in a transaction that is always rolled back: the same
   * privileges, tables, columns, constraints and counter row lock as a real commit, and nothing
   * left behind (the counter's update is undone with the row: no log index is used). Throws what
   * the commit would.
   */
  private async trialCommit(): Promise<void> {
    await withClient(this.pool, async (client) => {
      // The INSERT is sent only once BEGIN is acknowledged: it can never commit on its own. The
      // trial holds the counter row's lock, which every replica's commits wait for, across round
      // trips: should this process go quiet inside it (a partition), the database ends the
      // session after TRIAL_IDLE_TIMEOUT_MS, instead of keeping the lock until TCP gives up (hours).
      await client.query(
        `BEGIN; SET LOCAL idle_in_transaction_session_timeout = '${TRIAL_IDLE_TIMEOUT_MS}ms'`,
      );
      await this.insert([trialEntry()], client);
      await client.query('ROLLBACK');
    });
  }
}

/**
 * How long the database keeps a trial commit's session that stopped talking (see trialCommit). Well
 * under STATEMENT_TIMEOUT_MS: the other replicas' commits wait for the counter row's lock that
 * session holds, each within its statement timeout, and must outlast it (at 5 s, the two timeouts
 * were equal, and a commit queued behind a partitioned trial failed, 57014, on a healthy replica).
 */
const TRIAL_IDLE_TIMEOUT_MS = 2_000;

const UNAVAILABLE = 'ledger database unavailable';
const REFUSED_UNAVAILABLE: Refusal = { reason: UNAVAILABLE, temporary: true };
const REFUSED_READ_ONLY: Refusal = { reason: READ_ONLY, temporary: true };
const REFUSED_COUNTER_BEHIND: Refusal = { reason: COUNTER_BEHIND, temporary: false };
const REFUSED_COUNTER_BEHIND_LOG: Refusal = { reason: COUNTER_BEHIND_LOG, temporary: false };

/** No free connection in time, or commits that kept conflicting: this process is busy. */
function isBusy(error: unknown): boolean {
  const { code } = error as { code?: string };
  return isCheckoutTimeout(error) || (code !== undefined && CONFLICT.has(code));
}

/**
 * The refusal a failed commit (or the probe, or its trial commit) calls for, or undefined when it
 * says nothing about the database (busy; a serial number that collided).
 */
function refusalFor(error: unknown): Refusal | undefined {
  const { code, constraint } = error as { code?: string; constraint?: string };
  if (isBusy(error)) return undefined;
  if (error instanceof NoIndexError) return error.refusal;
  // A log index already taken: the counter row is behind the rows (a restore, a manual change).
  // Every commit would fail so, forever: refuse issuance until it is repaired.
  if (code === UNIQUE_VIOLATION && constraint !== SERIAL_CONSTRAINT) return REFUSED_COUNTER_BEHIND;
  if (code === UNIQUE_VIOLATION) return undefined;
  if (code === READ_ONLY_TRANSACTION) return REFUSED_READ_ONLY;
  // A password refused (28P01): most often rotated on the database before the Secret behind
  // --ledger-password-file, which is read again for each new connection; it ends once both agree:
  // for now (503), probed at the pace of a repair. (Other logins refused, class 28, are set-up.)
  if (code === INVALID_PASSWORD) {
    return { reason: `${LOGIN_REFUSED} (SQLSTATE ${code})`, temporary: true, failing: true };
  }
  if (isTransientDatabaseError(error)) return REFUSED_UNAVAILABLE;
  // The database answered and refused: a retry will not mend it, a repair will. The reason goes
  // to every client (the TimeStampResp's status text) and /readyz: the SQLSTATE only; the
  // database's own words, which may name tables, roles and hosts, go to the log (refuse()).
  const what = code ? `SQLSTATE ${code}` : error instanceof Error ? error.name : 'unknown error';
  return {
    reason: `${COMMITS_FAIL} (${what})`,
    temporary: false,
    failing: true,
  };
}

/** A commit that took no log index (the counter row is behind the log, or missing). */
class NoIndexError extends LedgerError {
  constructor(readonly refusal: Refusal) {
    super('INCONSISTENT', refusal.reason);
  }
}

/**
 * Why the group commit took no index: its counter row is missing (read as behind, as the probe
 * reads it) or behind the log's latest checkpoint. Asked only then: a commit is one statement.
 */
async function whyNoIndex(client: pg.Pool | pg.PoolClient): Promise<NoIndexError> {
  const { rows } = await client.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM tsa_ledger_counter WHERE id) AS present',
  );
  return new NoIndexError(rows[0]?.present ? REFUSED_COUNTER_BEHIND_LOG : REFUSED_COUNTER_BEHIND);
}

/** Why a batch failed, for the RecordError (its cause has the database's own words). */
function failureMessage(error: unknown, refusal: Refusal | undefined): string {
  const { code, constraint } = error as { code?: string; constraint?: string };
  if (isCheckoutTimeout(error)) return 'the ledger is busy: no connection became free in time';
  if (code !== undefined && CONFLICT.has(code)) {
    return 'the ledger is busy: commits kept conflicting with other transactions';
  }
  if (code === READ_ONLY_TRANSACTION) return READ_ONLY;
  if (error instanceof NoIndexError) return error.refusal.reason;
  if (refusal?.failing) return refusal.reason;
  if (code !== UNIQUE_VIOLATION) return 'the ledger database is unavailable';
  return constraint === SERIAL_CONSTRAINT
    ? 'serial numbers kept colliding in the ledger: not recorded'
    : `a log index is already taken: ${COUNTER_BEHIND}`;
}

/**
 * The row of the probe's trial commit (rolled back): shaped like a token's, and made up, so that
 * no request's data can keep the ledger refused.
 */
function trialEntry(): LedgerEntry {
  return {
    serial: randomBytes(20),
    genTime: new Date(),
    policy: '1.3.6.1.4.1.57264.2',
    hashAlgorithm: 'sha256',
    hashedMessage: randomBytes(32),
    token: randomBytes(64),
    timeSource: { trial: true },
  };
}

/**
 * The probe: the database answers, the counter row is after the last log index and not behind the
 * latest checkpoint's tree size (index lookups: cheap). A missing counter row reads as behind too
 * (the INSERT would add nothing).
 */
const PROBE = `
SELECT coalesce((SELECT next_index FROM tsa_ledger_counter WHERE id), -1)
         <= coalesce((SELECT max(log_index) FROM tsa_ledger), -1) AS behind,
       coalesce((SELECT next_index FROM tsa_ledger_counter WHERE id), -1)
         < coalesce((SELECT max(tree_size) FROM tsa_log_checkpoints), 0) AS behind_log,
       pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only`;

function takeBatch(pending: Pending[]): Pending[] {
  return pending.splice(0, MAX_BATCH);
}

/** An error's code and message for a log line (pg messages never hold the password). */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * The group commit: the counter row's lock (held to the end of this statement's implicit
 * transaction) hands out `count` consecutive indexes; the rows keep the order of the batch.
 * A counter behind the log's latest checkpoint (a partial restore) hands out none, so the
 * statement inserts nothing: no token takes an index a signed checkpoint holds, not even in the
 * seconds before the probe would notice (an index lookup a batch).
 */
const INSERT = `
WITH counter AS (
  UPDATE tsa_ledger_counter SET next_index = next_index + $1
  WHERE id AND next_index >= (SELECT coalesce(max(tree_size), 0) FROM tsa_log_checkpoints)
  RETURNING next_index - $1 AS base
)
INSERT INTO tsa_ledger
  (log_index, serial, gen_time, policy, hash_algorithm, hashed_message, token, time_source)
SELECT counter.base + e.ord - 1, e.serial, e.gen_time, e.policy, e.hash_algorithm,
       e.hashed_message, e.token, e.time_source::jsonb
FROM counter,
     unnest($2::bytea[], $3::timestamptz[], $4::text[], $5::text[], $6::bytea[], $7::bytea[],
            $8::text[])
       WITH ORDINALITY AS e(serial, gen_time, policy, hash_algorithm, hashed_message, token,
                            time_source, ord)
RETURNING serial, log_index`;
