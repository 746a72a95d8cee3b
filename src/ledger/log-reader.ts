import type pg from 'pg';
import { hashEqual, pow2, readHashesChecked, recordHash, storedHashIndex } from '../tlog/hash.js';
import { checkRecord, proveRecord } from '../tlog/proof.js';
import { formatEntryBundle, readTileData, TILE_HEIGHT, type Tile } from '../tlog/tile.js';
import { formatTlogProof } from '../tlog/tlog-proof.js';
import { LedgerError } from './errors.js';
import { databaseHashReader, latestCheckpoint } from './log-store.js';

/** What a log read found: the data, or why there is none (never an HTTP status: the server maps). */
export type LogRead<T> =
  | { found: true; value: T }
  | { found: false; reason: 'unknown' | 'not-yet-integrated' | 'no-checkpoint' };

const missing = (reason: 'unknown' | 'not-yet-integrated' | 'no-checkpoint') =>
  ({ found: false, reason }) as const;

/**
 * Reads the published log from the database, for the log's routes: the latest checkpoint, tiles
 * (C2SP tlog-tiles) and inclusion proofs (C2SP tlog-proof@v1) against the latest checkpoint.
 *
 * Entry bundles and proofs come from the ledger's rows, hash tiles from the stored hashes: a
 * ledger restored apart from the log (docs/ledger.md) holds other tokens at indexes the log has
 * signed. Each bundle and proof is checked against the log before it is served, and refused
 * (LedgerError INCONSISTENT) rather than served not to match.
 */
export class LogReader {
  constructor(private readonly pool: pg.Pool) {}

  async checkpoint(): Promise<LogRead<string>> {
    const latest = await latestCheckpoint(this.pool);
    return latest ? { found: true, value: latest.note } : missing('no-checkpoint');
  }

  /**
   * A hash tile or entry bundle, if the latest checkpoint covers it: C2SP clients never ask for
   * more than a checkpoint they hold, and a tile of the same path never changes.
   */
  async tile(tile: Tile): Promise<LogRead<Uint8Array>> {
    if (tile.h !== TILE_HEIGHT) return missing('unknown');
    const latest = await latestCheckpoint(this.pool);
    const size = latest?.size ?? 0;
    const level = Math.max(tile.l, 0);
    // The tile's last record: entries (or level-0 hashes) up to n*256+w, times 256^level.
    if ((tile.n * pow2(tile.h) + tile.w) * pow2(tile.h * level) > size) return missing('unknown');
    if (tile.l >= 0) {
      return { found: true, value: await readTileData(tile, databaseHashReader(this.pool)) };
    }
    const start = tile.n * pow2(tile.h);
    const { rows } = await this.pool.query<{ token: Buffer }>(
      'SELECT token FROM tsa_ledger WHERE log_index >= $1 AND log_index < $2 ORDER BY log_index',
      [start, start + tile.w],
    );
    // The bundle must hold the entries whose leaf hashes the level-0 tile of the same path serves.
    const leaves = await readHashesChecked(
      databaseHashReader(this.pool),
      Array.from({ length: tile.w }, (_, i) => storedHashIndex(0, start + i)),
    );
    if (
      rows.length !== tile.w ||
      rows.some((row, i) => !hashEqual(recordHash(row.token), leaves[i]!))
    ) {
      throw new LedgerError(
        'INCONSISTENT',
        `the ledger's tokens at log indexes ${start} to ${start + tile.w - 1} are not the log's ` +
          `entries: entry bundle not served`,
      );
    }
    return { found: true, value: formatEntryBundle(rows.map((row) => row.token)) };
  }

  /** The tlog-proof@v1 of the token with this serial number against the latest checkpoint. */
  async proof(serial: Uint8Array): Promise<LogRead<string>> {
    const { rows } = await this.pool.query<{ log_index: string; token: Buffer }>(
      'SELECT log_index, token FROM tsa_ledger WHERE serial = $1',
      [serial],
    );
    const row = rows[0];
    if (!row) return missing('unknown');
    const index = Number(row.log_index);
    const latest = await latestCheckpoint(this.pool);
    if (!latest || latest.size <= index) return missing('not-yet-integrated');
    const hashes = await proveRecord(latest.size, index, databaseHashReader(this.pool));
    try {
      checkRecord(hashes, latest.size, latest.hash, index, recordHash(row.token));
    } catch (error) {
      throw new LedgerError(
        'INCONSISTENT',
        `the ledger's token at log index ${index} is not the log's entry there: proof not served`,
        { cause: error },
      );
    }
    return { found: true, value: formatTlogProof({ index, hashes, checkpoint: latest.note }) };
  }
}
