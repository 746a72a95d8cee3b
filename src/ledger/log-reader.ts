import type pg from 'pg';
import { pow2 } from '../tlog/hash.js';
import { proveRecord } from '../tlog/proof.js';
import { formatEntryBundle, readTileData, TILE_HEIGHT, type Tile } from '../tlog/tile.js';
import { formatTlogProof } from '../tlog/tlog-proof.js';
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
    return { found: true, value: formatEntryBundle(rows.map((row) => row.token)) };
  }

  /** The log index of the token with this serial number (normalized), if it is in the ledger. */
  async indexOf(serial: Uint8Array): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ log_index: string }>(
      'SELECT log_index FROM tsa_ledger WHERE serial = $1',
      [serial],
    );
    return rows[0] ? Number(rows[0].log_index) : undefined;
  }

  /** The tlog-proof@v1 of the token with this serial number against the latest checkpoint. */
  async proof(serial: Uint8Array): Promise<LogRead<string>> {
    const index = await this.indexOf(serial);
    if (index === undefined) return missing('unknown');
    const latest = await latestCheckpoint(this.pool);
    if (!latest || latest.size <= index) return missing('not-yet-integrated');
    const hashes = await proveRecord(latest.size, index, databaseHashReader(this.pool));
    return { found: true, value: formatTlogProof({ index, hashes, checkpoint: latest.note }) };
  }
}
