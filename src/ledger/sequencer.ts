import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { formatCheckpoint, openCheckpoint } from '../tlog/checkpoint.js';
import {
  EMPTY_TREE_HASH,
  hashEqual,
  recordHash,
  storedHashes,
  storedHashIndex,
  treeHash,
  type Hash,
} from '../tlog/hash.js';
import { newVerifier, signNote, type NoteSigner, type NoteVerifier } from '../tlog/note.js';
import { checkRecord, checkTree, proveRecord, proveTree } from '../tlog/proof.js';
import { LedgerError } from './errors.js';
import {
  logSequencerRefusals,
  recordTreeSize,
  recordUnintegratedAge,
  watchLog,
} from './ledger-metrics.js';
import { databaseHashReader, latestCheckpoint, type StoredCheckpoint } from './log-store.js';
import { SEQUENCER_LOCK } from './schema.js';

/** Entries integrated per transaction at most; a backlog takes several rounds. */
export const MAX_INTEGRATE = 4_096;

export interface SequencerLogger {
  info(message: string): void;
  warn(fields: object, message: string): void;
}

export interface SequencerOptions {
  signer: NoteSigner;
  origin: string;
  /**
   * The note verifier key of `signer` (origin+keyid+key): the previous checkpoint must verify
   * with it, or the log is another's (a replica with a different --ledger-key or --ledger-origin)
   * and nothing is signed.
   */
  verifierKey: string;
  intervalMs: number;
  logger: SequencerLogger;
  /** The monotonic clock of the failure reminders, in ms (tests). */
  now?: () => number;
  /** Called with each checkpoint this process signed (anchoring). */
  onCheckpoint?: (checkpoint: StoredCheckpoint) => void;
  /**
   * How long the lock's session may stay idle or stop answering before PostgreSQL ends it and
   * so hands the lock over (idle_session_timeout, idle_in_transaction_session_timeout, TCP
   * keepalives and tcp_user_timeout): default leaseMs(intervalMs).
   */
  leaseMs?: number;
}

/**
 * While rounds keep failing for one reason (the database down: every replica, every round), the
 * reason is logged again at most this often, with the rounds failed since; a new reason at once.
 */
export const FAILURE_REMINDER_MS = 5 * 60_000;

/** The default lease: well above the round interval, so a live sequencer never loses it. */
export function leaseMs(intervalMs: number): number {
  return Math.max(30_000, 10 * intervalMs);
}

/**
 * The transparency log's one sequencer across replicas: whoever holds the PostgreSQL advisory lock
 * SEQUENCER_LOCK (a session lock: it goes with the holder's connection, so a replica that dies or
 * loses the database hands it over) integrates the ledger's new rows, in log_index order, into the
 * Merkle tree, stores the new stored hashes and signs a checkpoint, all in one transaction on the
 * lock's connection. Every replica tries for the lock each interval.
 *
 * A checkpoint is signed only after checking, with a consistency proof from the stored hashes,
 * that the new tree contains the tree of the previous checkpoint, that the stored hashes still
 * give the previous root, and that the ledger still holds the previous checkpoint's last entry:
 * the log never signs a checkpoint inconsistent with an earlier one, nor one over entries it did
 * not integrate. A new checkpoint is published only once it verifies with the log's own key.
 */
export class Sequencer {
  private client: pg.PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private verifier: NoteVerifier | undefined;
  /** Why the lock's connection was lost between two slices of a round (its 'error'). */
  private lost: unknown;
  /** Whether this process holds the lock now. */
  leader = false;
  /** The failure the rounds keep meeting, since it was last logged. */
  private failing: { reason: string; loggedAt: number; rounds: number } | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: SequencerOptions,
  ) {}

  start(): void {
    watchLog();
    this.schedule(0);
  }

  /** One round now (tests and the first checkpoint); resolves when it is done. */
  async round(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.tick().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.release();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.round().finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (await this.acquire()) {
        // A backlog: integrate it all now rather than one slice per interval.
        while (!this.stopped && (await this.integrate(this.lockClient())) === MAX_INTEGRATE);
      }
      this.succeeded();
    } catch (error) {
      this.failed(error instanceof Error ? error.message : String(error));
      await this.release(true);
    }
    await this.measureLag();
  }

  /** Logs a round's failure when its reason is new, else a reminder now and then. */
  private failed(reason: string): void {
    // Monotonic: a step of the wall clock would move the reminder.
    const now = this.options.now ? this.options.now() : performance.now();
    const failing = this.failing;
    if (failing?.reason !== reason) {
      this.options.logger.warn({ reason }, 'transparency log sequencer round failed');
      this.failing = { reason, loggedAt: now, rounds: 0 };
    } else if (now - failing.loggedAt >= FAILURE_REMINDER_MS) {
      this.options.logger.warn(
        { reason, roundsSinceLastReport: failing.rounds + 1 },
        'transparency log sequencer rounds still failing',
      );
      this.failing = { reason, loggedAt: now, rounds: 0 };
    } else {
      failing.rounds++;
    }
  }

  private succeeded(): void {
    if (!this.failing) return;
    this.failing = undefined;
    this.options.logger.info('transparency log sequencer rounds succeed again');
  }

  /** Every replica, each round: how long the oldest entry has waited for a checkpoint. */
  private async measureLag(): Promise<void> {
    try {
      const { rows } = await (this.client ?? this.pool).query<{ age: number }>(UNINTEGRATED_AGE);
      recordUnintegratedAge(Math.max(0, Number(rows[0]?.age ?? 0)));
    } catch {
      // The database is unavailable: the ledger's probe says so.
    }
  }

  private async acquire(): Promise<boolean> {
    if (this.client) return true;
    const client = await this.pool.connect();
    // From the checkout on: a checked-out client has none of the pool's listeners, and a
    // connection cut during the lock query emits 'error' besides rejecting it, which unheard would
    // end the process (as withClient, pools.ts). Once the lock is held, an error on the idle
    // connection (the database went away, or ended the session) loses the lock with it; a round
    // under way ends with that error (lockClient).
    const onError = (error: Error) => {
      if (this.client !== client) return;
      this.lost = error;
      void this.release(true);
    };
    client.on('error', onError);
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1) AS locked',
        [SEQUENCER_LOCK],
      );
      if (!rows[0]?.locked) {
        // Back to the pool, which listens again: another replica is the sequencer.
        client.off('error', onError);
        client.release();
        return false;
      }
    } catch (error) {
      // Destroyed, listener kept: its 'error' may still come after the query's rejection.
      client.release(true);
      throw error;
    }
    this.lost = undefined;
    try {
      await client.query(LEASE, [this.lease()]);
    } catch (error) {
      await this.releaseClient(client, true);
      throw error;
    }
    this.client = client;
    this.leader = true;
    this.options.logger.info('transparency log: this process is the sequencer');
    return true;
  }

  /** The lease in whole seconds and milliseconds, as the settings want them. */
  private lease(): number {
    return Math.max(1_000, Math.round(this.options.leaseMs ?? leaseMs(this.options.intervalMs)));
  }

  private async release(destroy = false): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    this.leader = false;
    await this.releaseClient(client, destroy);
  }

  private async releaseClient(client: pg.PoolClient, destroy: boolean): Promise<void> {
    if (!destroy) {
      await client.query('SELECT pg_advisory_unlock($1)', [SEQUENCER_LOCK]).catch(() => {
        destroy = true;
      });
    }
    client.release(destroy);
  }

  /**
   * The latest checkpoint as its signed note says, never as the unsigned columns: it must verify
   * with this process's own key and origin (else the log is another's: a replica with a different
   * --ledger-key or --ledger-origin must not switch the log's identity), and the columns must
   * agree with it (else the store was changed: nothing is signed over it).
   */
  private async signedPrevious(client: pg.PoolClient): Promise<StoredCheckpoint | undefined> {
    const stored = await latestCheckpoint(client);
    if (!stored) return undefined;
    let checkpoint;
    try {
      ({ checkpoint } = openCheckpoint(stored.note, this.verifierKey(), this.options.origin));
    } catch (error) {
      logSequencerRefusals.inc({ reason: 'foreign_checkpoint' });
      throw new LedgerError(
        'INCONSISTENT',
        `the latest checkpoint (size ${stored.size}) does not verify with this log's key and ` +
          `origin (${this.options.origin}): another --ledger-key or --ledger-origin signed it; ` +
          `not signing (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    if (checkpoint.size !== stored.size || !hashEqual(checkpoint.hash, stored.hash)) {
      logSequencerRefusals.inc({ reason: 'inconsistent' });
      throw new LedgerError(
        'INCONSISTENT',
        `the stored size or root hash of the checkpoint of size ${stored.size} is not what its ` +
          `signed note says: not signing`,
      );
    }
    return { size: checkpoint.size, hash: checkpoint.hash, note: stored.note };
  }

  /**
   * The lock's connection, for the next slice of a round: an error on it may have released the
   * lock since the last slice, and the round then ends with that error as its reason.
   */
  private lockClient(): pg.PoolClient {
    if (this.client) return this.client;
    const cause = this.lost instanceof Error ? this.lost.message : String(this.lost);
    throw new LedgerError(
      'UNAVAILABLE',
      `the sequencer's database session was lost, and the lock with it: ${cause}`,
      { cause: this.lost },
    );
  }

  /**
   * The ledger's row at the previous checkpoint's last index must be the entry that checkpoint
   * holds there (an inclusion proof against its signed root): if tsa_ledger was restored from an
   * older backup than the log's tables (a partial restore), or rows were removed, the rows from
   * the previous size on are not the ones that follow it in the log, and a new checkpoint would
   * commit to tokens no longer in the ledger while its entry bundles serve others. The stored
   * leaf hash must pass the same proof, else the stored hashes are what disagrees.
   */
  private async checkLastEntry(
    client: pg.PoolClient,
    previous: StoredCheckpoint,
    reader: ReturnType<typeof databaseHashReader>,
  ): Promise<void> {
    if (previous.size === 0) return;
    const last = previous.size - 1;
    const proof = await proveRecord(previous.size, last, reader);
    const proves = (leaf: Hash): boolean => {
      try {
        checkRecord(proof, previous.size, previous.hash, last, leaf);
        return true;
      } catch {
        return false;
      }
    };
    const [stored] = await reader.readHashes([storedHashIndex(0, last)]);
    if (!stored || !proves(stored)) {
      logSequencerRefusals.inc({ reason: 'inconsistent' });
      throw new LedgerError(
        'INCONSISTENT',
        `stored hashes no longer prove entry ${last} of the checkpoint of size ${previous.size}: ` +
          `not signing`,
      );
    }
    const { rows } = await client.query<{ token: Buffer }>(
      'SELECT token FROM tsa_ledger WHERE log_index = $1',
      [last],
    );
    const token = rows[0]?.token;
    if (token && proves(recordHash(token))) return;
    logSequencerRefusals.inc({ reason: 'ledger_mismatch' });
    throw new LedgerError(
      'INCONSISTENT',
      `the ledger row at log index ${last}, the last entry of the checkpoint of size ` +
        `${previous.size}, is ${token ? 'not the entry the checkpoint holds' : 'missing'}: ` +
        `tsa_ledger was restored apart from the log, or changed (docs/ledger.md); not signing`,
    );
  }

  /**
   * A new checkpoint must verify with the log's verifier key (the one /api/v1/log/key serves)
   * before it is published: a --ledger-key whose signatures do not (a PKCS#11 public-key object
   * that is not the private key's pair, a token that returns a bad signature) would publish a note
   * no client can verify, anchor it, and every later round would refuse it as another log's.
   */
  private checkOwnSignature(note: string, size: number): void {
    try {
      openCheckpoint(note, this.verifierKey(), this.options.origin);
    } catch (error) {
      logSequencerRefusals.inc({ reason: 'bad_signature' });
      throw new LedgerError(
        'KEY',
        `the checkpoint of size ${size} just signed does not verify with the log's verifier ` +
          `key (the public key of --ledger-key): not publishing it ` +
          `(${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
  }

  private verifierKey(): NoteVerifier {
    this.verifier ??= newVerifier(this.options.verifierKey);
    return this.verifier;
  }

  /** Integrates up to MAX_INTEGRATE new entries and signs; returns how many it integrated. */
  private async integrate(client: pg.PoolClient): Promise<number> {
    await client.query('BEGIN');
    try {
      const previous = await this.signedPrevious(client);
      const oldSize = previous?.size ?? 0;
      const { rows } = await client.query<{ log_index: string; token: Buffer }>(
        'SELECT log_index, token FROM tsa_ledger WHERE log_index >= $1 ORDER BY log_index LIMIT $2',
        [oldSize, MAX_INTEGRATE],
      );
      if (previous && rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const added = new Map<number, Hash>();
      const reader = databaseHashReader(client, added);
      if (previous) await this.checkLastEntry(client, previous, reader);
      let size = oldSize;
      for (const row of rows) {
        // log_index is gapless by construction (the counter row): a gap is rows removed, a
        // restore, a counter moved by hand. The log stops there: counted, for the alert.
        if (Number(row.log_index) !== size) {
          logSequencerRefusals.inc({ reason: 'ledger_gap' });
          throw new LedgerError('INCONSISTENT', `ledger index ${size} is missing`);
        }
        const hashes = await storedHashes(size, row.token, reader);
        const first = storedHashIndex(0, size);
        hashes.forEach((hash, i) => added.set(first + i, hash));
        size++;
      }
      const root = await treeHash(size, reader);
      if (previous) await checkConsistent(previous, size, root, reader);
      if (added.size > 0) {
        const indexes = [...added.keys()];
        await client.query(
          'INSERT INTO tsa_log_hashes (hash_index, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])',
          [indexes, indexes.map((index) => added.get(index))],
        );
      }
      const note = await signNote(
        formatCheckpoint({ origin: this.options.origin, size, hash: root }),
        this.options.signer,
      );
      this.checkOwnSignature(note, size);
      await client.query(
        'INSERT INTO tsa_log_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)',
        [size, root, note],
      );
      await client.query('COMMIT');
      recordTreeSize(size);
      this.options.onCheckpoint?.({ size, hash: root, note });
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

/**
 * Refuses to sign a tree that does not extend the previous checkpoint's: the stored hashes must
 * still give its root, and a consistency proof from them must verify.
 */
async function checkConsistent(
  previous: StoredCheckpoint,
  size: number,
  root: Hash,
  reader: ReturnType<typeof databaseHashReader>,
): Promise<void> {
  const oldRoot = previous.size === 0 ? EMPTY_TREE_HASH : await treeHash(previous.size, reader);
  if (!hashEqual(oldRoot, previous.hash)) {
    logSequencerRefusals.inc({ reason: 'inconsistent' });
    throw new LedgerError(
      'INCONSISTENT',
      `stored hashes no longer give the root of the checkpoint of size ${previous.size}: not signing`,
    );
  }
  if (previous.size === 0 || previous.size === size) return;
  try {
    checkTree(
      await proveTree(size, previous.size, reader),
      size,
      root,
      previous.size,
      previous.hash,
    );
  } catch (error) {
    logSequencerRefusals.inc({ reason: 'inconsistent' });
    throw new LedgerError(
      'INCONSISTENT',
      `the tree of size ${size} is not consistent with the checkpoint of size ${previous.size}: not signing`,
      { cause: error },
    );
  }
}

/**
 * The lock session's lease ($1 ms): PostgreSQL ends a session idle (or idle in a transaction) that
 * long, and detects a peer gone silent (a partition) by TCP keepalives and tcp_user_timeout, so a
 * frozen sequencer (SIGSTOP, a partition) hands the lock over instead of stalling the log.
 * idle_session_timeout is PostgreSQL 14+: skipped where the server does not know it.
 */
const LEASE = `
SELECT set_config(name, CASE
         WHEN name LIKE 'tcp_keepalives_idle' THEN greatest($1::int / 3000, 1)::text
         WHEN name LIKE 'tcp_keepalives_interval' THEN greatest($1::int / 9000, 1)::text
         WHEN name LIKE 'tcp_keepalives_count' THEN '3'
         ELSE $1::int::text END, false)
FROM pg_settings
WHERE name IN ('idle_session_timeout', 'idle_in_transaction_session_timeout',
               'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count',
               'tcp_user_timeout')`;

/**
 * Seconds the oldest ledger entry beyond the latest checkpoint has waited (0: none waits): the
 * first row at or after its size, which need not be at it (a gap there stops the log, and must
 * not read as none waiting). The first by log_index, one index lookup however long the backlog:
 * indexes follow commit order, so it is the oldest but for commits that waited for each other's
 * counter row lock (at most a statement_timeout apart).
 */
const UNINTEGRATED_AGE = `
SELECT coalesce(extract(epoch FROM now() - (
  SELECT recorded_at FROM tsa_ledger
  WHERE log_index >= (SELECT coalesce(max(tree_size), 0) FROM tsa_log_checkpoints)
  ORDER BY log_index LIMIT 1)), 0)::float8 AS age`;
