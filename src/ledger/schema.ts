import type { Pool, PoolClient } from 'pg';
import { LedgerError } from './errors.js';
import { withClient } from './pools.js';

/** The schema this version writes; a database at a later version is refused. */
export const SCHEMA_VERSION = 1;

/**
 * The ledger's tables (docs/ledger.md):
 * - tsa_ledger: one row per granted token. log_index comes from tsa_ledger_counter in the same
 *   statement, so indexes are gapless and in commit order across every replica.
 * - tsa_log_hashes: the transparency log's stored hashes by stored-hash index (as Go's sumdb).
 * - tsa_log_checkpoints: every signed checkpoint, by tree size.
 */
const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS tsa_schema_version (
     version integer PRIMARY KEY,
     applied_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS tsa_ledger_counter (
     id boolean PRIMARY KEY DEFAULT true CHECK (id),
     next_index bigint NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS tsa_ledger (
     log_index bigint PRIMARY KEY,
     serial bytea NOT NULL CONSTRAINT tsa_ledger_serial_unique UNIQUE,
     gen_time timestamptz NOT NULL,
     policy text NOT NULL,
     hash_algorithm text NOT NULL,
     hashed_message bytea NOT NULL,
     token bytea NOT NULL,
     time_source jsonb,
     recorded_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS tsa_log_hashes (
     hash_index bigint PRIMARY KEY,
     hash bytea NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS tsa_log_checkpoints (
     tree_size bigint PRIMARY KEY,
     root_hash bytea NOT NULL,
     note text NOT NULL,
     signed_at timestamptz NOT NULL DEFAULT now())`,
];

/** The tables STATEMENTS create: when all exist, no DDL runs (no CREATE privilege needed). */
const TABLES = [
  'tsa_schema_version',
  'tsa_ledger_counter',
  'tsa_ledger',
  'tsa_log_hashes',
  'tsa_log_checkpoints',
];

/** A missing counter row (a partial restore) starts after the last log index. */
const SEED_COUNTER = `
INSERT INTO tsa_ledger_counter (id, next_index)
SELECT true, coalesce(max(log_index) + 1, 0) FROM tsa_ledger
ON CONFLICT DO NOTHING`;

/** Creates the tables if needed (several replicas may start at once) and checks the version. */
export async function migrate(pool: Pool): Promise<void> {
  await withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      // One replica at a time: CREATE TABLE IF NOT EXISTS races on the catalog otherwise.
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      // CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when the table exists: a
      // least-privilege user (SELECT, INSERT, UPDATE) restarts without it.
      const { rows: present } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM unnest($1::text[]) AS t(name) WHERE to_regclass(name) IS NOT NULL',
        [TABLES],
      );
      if ((present[0]?.n ?? 0) < TABLES.length) {
        for (const statement of STATEMENTS) await client.query(statement);
      }
      const { rows: counter } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tsa_ledger_counter',
      );
      if (counter[0]?.n === 0) await client.query(SEED_COUNTER);
      const { rows } = await client.query<{ version: number }>(
        'SELECT max(version) AS version FROM tsa_schema_version',
      );
      const version = rows[0]?.version ?? null;
      if (version !== null && version > SCHEMA_VERSION) {
        throw new LedgerError(
          'SCHEMA',
          `the ledger database is at schema version ${version}; this server knows ${SCHEMA_VERSION}: upgrade it`,
        );
      }
      if (version === null) {
        await client.query('INSERT INTO tsa_schema_version (version) VALUES ($1)', [
          SCHEMA_VERSION,
        ]);
      }
      await checkCounter(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * Refuses a counter row that is not after the last log index: every commit would collide with
 * an existing row (a restore of the rows without the counter, a manual change). Refuses one behind
 * the log's latest checkpoint too: tsa_ledger restored from an older backup than tsa_log_* (a
 * partial restore) would hand out indexes the log has already signed, and new tokens would take
 * the places of tokens the checkpoints commit to. Not repaired silently: which rows are right is
 * for a person to decide (docs/ledger.md).
 */
async function checkCounter(client: Pick<PoolClient, 'query'>): Promise<void> {
  const { rows } = await client.query<{
    next: string | null;
    last: string | null;
    signed: string | null;
  }>(
    `SELECT (SELECT next_index FROM tsa_ledger_counter WHERE id) AS next,
            (SELECT max(log_index) FROM tsa_ledger) AS last,
            (SELECT max(tree_size) FROM tsa_log_checkpoints) AS signed`,
  );
  const next = rows[0]?.next ?? null;
  const last = rows[0]?.last ?? null;
  const signed = rows[0]?.signed ?? null;
  if (next === null || (last !== null && BigInt(next) <= BigInt(last))) {
    throw new LedgerError(
      'INCONSISTENT',
      `tsa_ledger_counter.next_index (${next ?? 'missing'}) is not after the last log index ` +
        `(${last}): set it to max(log_index) + 1 (docs/ledger.md)`,
    );
  }
  if (signed !== null && BigInt(next) < BigInt(signed)) {
    throw new LedgerError(
      'INCONSISTENT',
      `tsa_ledger_counter.next_index (${next}) is behind the log's latest checkpoint (tree size ` +
        `${signed}): tsa_ledger was restored from an older backup than tsa_log_checkpoints; ` +
        `restore the ledger rows the checkpoint covers (docs/ledger.md)`,
    );
  }
}

/** Advisory lock keys (pg_advisory_lock's bigint space): "tsa" + a purpose. */
export const MIGRATION_LOCK = '7630514720001';
export const SEQUENCER_LOCK = '7630514720002';
