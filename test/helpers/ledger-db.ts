import type pg from 'pg';
import { poolConfig } from '../../src/ledger/connection.js';
import { Ledger, type LedgerLogger } from '../../src/ledger/ledger.js';

/** A WARN line of the ledger (or its sequencer): its fields and message. */
export interface LedgerWarning {
  fields: { reason?: string } & Record<string, unknown>;
  message: string;
}

/** A LedgerLogger that keeps its lines: WARN lines with their fields, INFO lines' messages. */
export function recordingLedgerLogger(): {
  logger: LedgerLogger;
  warnings: LedgerWarning[];
  infos: string[];
} {
  const warnings: LedgerWarning[] = [];
  const infos: string[] = [];
  const logger: LedgerLogger = {
    info: (message) => void infos.push(message),
    warn: (fields, message) =>
      void warnings.push({ fields: fields as LedgerWarning['fields'], message }),
  };
  return { logger, warnings, infos };
}

/** A Ledger on the database at `url`, with a pool of two connections. */
export async function openTestLedger(
  url: string,
  logger: LedgerLogger = recordingLedgerLogger().logger,
): Promise<Ledger> {
  return Ledger.open(await poolConfig(url, '', 2), logger);
}

/** Drops the ledger's tables: the next Ledger.open creates them afresh. */
export async function resetLedgerSchema(db: pg.Pool): Promise<void> {
  await db.query(
    'DROP TABLE IF EXISTS tsa_ledger, tsa_ledger_counter, tsa_log_hashes, tsa_log_checkpoints, ' +
      'tsa_schema_version',
  );
}

/**
 * `count` made-up rows from log index `from` on, as commits add them, and the counter after them,
 * in one statement: a ledger open on the database probes it at any moment, and a counter seen
 * behind the rows (between two statements) refuses issuance until its next probe.
 */
export async function insertLedgerRows(db: pg.Pool, from: number, count: number): Promise<void> {
  await db.query(
    `WITH inserted AS (
       INSERT INTO tsa_ledger (log_index, serial, gen_time, policy, hash_algorithm, hashed_message, token)
       SELECT i, decode(md5(random()::text), 'hex'), now(), '1.2.3', 'sha256',
              sha256(int8send(i)), decode(md5(random()::text) || md5(random()::text), 'hex')
       FROM generate_series($1::bigint, $2::bigint) AS i
       RETURNING 1
     )
     UPDATE tsa_ledger_counter SET next_index = $2::bigint + 1`,
    [from, from + count - 1],
  );
}
