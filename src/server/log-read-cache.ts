import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { LogRead, LogReader } from '../ledger/log-reader.js';
import { tilePath, type Tile } from '../tlog/tile.js';
import { ByteLru } from './byte-lru.js';
import { SingleFlight } from './single-flight.js';

const gzip = promisify(gzipCallback);

/**
 * The bytes of full tiles and entry bundles kept per process, as served (an entry bundle both
 * plain and gzipped): 4,096 full hash tiles, or some dozens of full bundles of ordinary tokens.
 */
export const LOG_CACHE_BYTES = 32 * 1024 * 1024;

/** A full tile's width (tlog-tiles: 256): its content is fixed by its path alone. */
const FULL_WIDTH = 256;

/** The reads the log routes make of a LogReader (tests give a fake). */
export type LogReads = Pick<LogReader, 'checkpoint' | 'tile' | 'proof'>;

/**
 * The log routes' reads of the database, so that a flood of one request costs one read: every
 * read is shared by the requests for the same resource that come while it runs (a found tile,
 * whose content the path fixes, with all of them; anything else only with those that came before
 * it began, so none is answered from before it came: late ones share one more read). Full tiles
 * and entry bundles, immutable (tlog-tiles), are kept as read (and gzipped) within LOG_CACHE_BYTES,
 * least recently used out first. Nothing else is kept: partial tiles give way to the full tile,
 * and a 404 (not in the log yet), a checkpoint or a proof changes as the log grows.
 */
export class LogReadCache {
  private readonly kept: ByteLru;
  private readonly tiles = new SingleFlight<LogRead<Uint8Array>>();
  private readonly texts = new SingleFlight<LogRead<string>>();

  constructor(
    private readonly reader: LogReads,
    maxBytes: number = LOG_CACHE_BYTES,
  ) {
    this.kept = new ByteLru(maxBytes);
  }

  /** The bytes kept now. */
  get bytes(): number {
    return this.kept.bytes;
  }

  checkpoint(): Promise<LogRead<string>> {
    return this.texts.run('checkpoint', () => this.reader.checkpoint(), never);
  }

  proof(serial: Uint8Array): Promise<LogRead<string>> {
    const key = `proof ${Buffer.from(serial).toString('hex')}`;
    return this.texts.run(key, () => this.reader.proof(serial), never);
  }

  /** The tile or entry bundle as stored. */
  tile(tile: Tile): Promise<LogRead<Uint8Array>> {
    return this.read(tilePath(tile), tile, () => this.reader.tile(tile));
  }

  /** The entry bundle gzip-compressed, off the event loop (a full one holds 256 tokens). */
  gzipped(tile: Tile): Promise<LogRead<Uint8Array>> {
    return this.read(`${tilePath(tile)} gzip`, tile, async () => {
      const plain = await this.tile(tile);
      return plain.found ? { found: true, value: await gzip(plain.value) } : plain;
    });
  }

  private async read(
    key: string,
    tile: Tile,
    load: () => Promise<LogRead<Uint8Array>>,
  ): Promise<LogRead<Uint8Array>> {
    const hit = this.kept.get(key);
    if (hit) return { found: true, value: hit };
    return this.tiles.run(
      key,
      async () => {
        const read = await load();
        if (read.found && tile.w === FULL_WIDTH) this.kept.set(key, read.value);
        return read;
      },
      (read) => read.found,
    );
  }
}

const never = () => false;

const caches = new WeakMap<LogReads, LogReadCache>();

/** The process's cache of a reader: one for every listener (HTTP, HTTPS) that serves its log. */
export function logReadCacheOf(reader: LogReads): LogReadCache {
  let cache = caches.get(reader);
  if (!cache) {
    cache = new LogReadCache(reader);
    caches.set(reader, cache);
  }
  return cache;
}
