import type pg from 'pg';
import { HASH_SIZE, type Hash, type HashReader } from '../tlog/hash.js';
import { LedgerError } from './errors.js';

/** A pool or one client: what runs a query. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** The log's stored hashes in tsa_log_hashes (as Go's sumdb keeps them), read by index. */
export function databaseHashReader(db: Queryable, overlay?: ReadonlyMap<number, Hash>): HashReader {
  return {
    async readHashes(indexes) {
      const missing = indexes.filter((index) => !overlay?.has(index));
      const found = new Map<number, Hash>();
      if (missing.length > 0) {
        const { rows } = await db.query<{ hash_index: string; hash: Buffer }>(
          'SELECT hash_index, hash FROM tsa_log_hashes WHERE hash_index = ANY($1::bigint[])',
          [missing],
        );
        for (const row of rows) found.set(Number(row.hash_index), new Uint8Array(row.hash));
      }
      return indexes.map((index) => {
        const hash = overlay?.get(index) ?? found.get(index);
        if (hash?.length !== HASH_SIZE) {
          throw new LedgerError('INCONSISTENT', `stored hash ${index} is missing`);
        }
        return hash;
      });
    },
  };
}

/** The latest signed checkpoint: its tree size, root hash and signed note. */
export interface StoredCheckpoint {
  size: number;
  hash: Hash;
  note: string;
}

export async function latestCheckpoint(db: Queryable): Promise<StoredCheckpoint | undefined> {
  const { rows } = await db.query<{ tree_size: string; root_hash: Buffer; note: string }>(
    'SELECT tree_size, root_hash, note FROM tsa_log_checkpoints ORDER BY tree_size DESC LIMIT 1',
  );
  const row = rows[0];
  return (
    row && { size: Number(row.tree_size), hash: new Uint8Array(row.root_hash), note: row.note }
  );
}
