import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LogRead } from '../../../src/ledger/log-reader.js';
import { LogReadCache, type LogReads } from '../../../src/server/log-read-cache.js';
import type { Tile } from '../../../src/tlog/tile.js';

// The log routes' reads through LogReadCache, over a fake log whose size the test grows and whose
// reads the test may hold: how many reads reach it, and what each caller gets.

const FULL = 256;
const hashTile = (n: number, w = FULL): Tile => ({ h: 8, l: 0, n, w });
const bundle = (n: number, w = FULL): Tile => ({ h: 8, l: -1, n, w });

/** A log of `size` entries: tile bytes are their index pattern, the checkpoint names the size. */
function fakeLog() {
  const state = { size: 0, hold: false, tileReads: 0, checkpointReads: 0 };
  const held: (() => void)[] = [];
  /** Reads the state as the read begins (a database snapshot); held, answers once released. */
  const answer = <T>(read: () => T): Promise<T> => {
    const value = read();
    return new Promise((resolve) => {
      if (state.hold) held.push(() => resolve(value));
      else resolve(value);
    });
  };
  const reader: LogReads = {
    tile: (tile: Tile) => {
      state.tileReads++;
      return answer((): LogRead<Uint8Array> => {
        const end = (tile.n * FULL + tile.w) * FULL ** Math.max(tile.l, 0);
        if (end > state.size) return { found: false, reason: 'unknown' };
        const bytes = tile.l === -1 ? 1000 * tile.w : 32 * tile.w;
        return { found: true, value: new Uint8Array(bytes).fill(tile.n + 1) };
      });
    },
    checkpoint: () => {
      state.checkpointReads++;
      return answer((): LogRead<string> => ({
        found: true,
        value: `tsa.test/log\n${state.size}\n`,
      }));
    },
    proof: () => Promise.resolve({ found: false, reason: 'unknown' }),
  };
  const releaseAll = () => {
    for (const release of held.splice(0)) release();
  };
  return { state, reader, releaseAll };
}

/** The bytes a read found (the test fails on one that found none). */
function bytesOf(read: LogRead<Uint8Array>): Uint8Array {
  if (!read.found) throw new Error(`not found: ${read.reason}`);
  return read.value;
}

/** Lets the promise jobs queued so far run (a read settling, its sharers resuming). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('LogReadCache', () => {
  it('reads a full tile once for every request at once, and keeps it', async () => {
    const log = fakeLog();
    log.state.size = 300;
    log.state.hold = true;
    const cache = new LogReadCache(log.reader);
    const reads = Array.from({ length: 50 }, () => cache.tile(bundle(0)));
    expect(log.state.tileReads).toBe(1);
    log.releaseAll();
    const answers = (await Promise.all(reads)).map(bytesOf);
    // One buffer for all: no copy per request.
    expect(new Set(answers).size).toBe(1);
    // Kept: later requests read nothing.
    expect(bytesOf(await cache.tile(bundle(0)))).toBe(answers[0]);
    expect(log.state.tileReads).toBe(1);
    expect(cache.bytes).toBe(1000 * FULL);
  });

  it('gzips a full entry bundle once, keeping it as served both ways, from one read', async () => {
    const log = fakeLog();
    log.state.size = 256;
    const cache = new LogReadCache(log.reader);
    const answers = (
      await Promise.all([
        ...Array.from({ length: 10 }, () => cache.gzipped(bundle(0))),
        cache.tile(bundle(0)),
      ])
    ).map(bytesOf);
    expect(log.state.tileReads).toBe(1);
    const plain = answers.pop()!;
    expect(new Set(answers).size).toBe(1);
    const gzipped = answers[0]!;
    expect(gunzipSync(gzipped).equals(Buffer.from(plain))).toBe(true);
    expect(cache.bytes).toBe(plain.byteLength + gzipped.byteLength);
    expect(bytesOf(await cache.gzipped(bundle(0)))).toBe(gzipped);
    expect(bytesOf(await cache.tile(bundle(0)))).toBe(plain);
    expect(log.state.tileReads).toBe(1);
  });

  it('keeps no partial tile: each is read again, and the full one is served once the log has it', async () => {
    const log = fakeLog();
    log.state.size = 5;
    const cache = new LogReadCache(log.reader);
    expect(await cache.tile(hashTile(0, 5))).toMatchObject({ found: true });
    expect(await cache.tile(hashTile(0))).toEqual({ found: false, reason: 'unknown' });
    expect(await cache.tile(bundle(0, 5))).toMatchObject({ found: true });
    expect(cache.bytes).toBe(0);
    log.state.size = 256;
    expect(await cache.tile(hashTile(0, 5))).toMatchObject({ found: true });
    expect(await cache.tile(hashTile(0, 200))).toMatchObject({ found: true });
    // The 404 of the full tile was not kept.
    expect(await cache.tile(hashTile(0))).toMatchObject({ found: true });
    expect(log.state.tileReads).toBe(6);
    expect(cache.bytes).toBe(32 * FULL);
  });

  it('never answers a request with a "not in the log yet" read that began before it came', async () => {
    const log = fakeLog();
    log.state.size = 5;
    log.state.hold = true;
    const cache = new LogReadCache(log.reader);
    const before = cache.tile(bundle(0, 7));
    // Signed meanwhile: the log has 7 entries when the next requests come, during that read.
    log.state.size = 7;
    const after = Array.from({ length: 3 }, () => cache.tile(bundle(0, 7)));
    expect(log.state.tileReads).toBe(1);
    log.releaseAll();
    expect(await before).toEqual({ found: false, reason: 'unknown' });
    // The later requests share one read of their own, begun after they came.
    await settle();
    expect(log.state.tileReads).toBe(2);
    log.releaseAll();
    for (const read of await Promise.all(after)) expect(read).toMatchObject({ found: true });
  });

  it('hands a found tile to requests that came during its read: a path has one content', async () => {
    const log = fakeLog();
    log.state.size = 7;
    log.state.hold = true;
    const cache = new LogReadCache(log.reader);
    const first = cache.tile(bundle(0, 7));
    const later = cache.tile(bundle(0, 7));
    log.releaseAll();
    expect(bytesOf(await later)).toBe(bytesOf(await first));
    expect(log.state.tileReads).toBe(1);
  });

  it('reads the checkpoint once for the requests that come during a read, never answering them with it', async () => {
    const log = fakeLog();
    log.state.size = 1;
    log.state.hold = true;
    const cache = new LogReadCache(log.reader);
    const first = cache.checkpoint();
    const later = Array.from({ length: 20 }, () => cache.checkpoint());
    expect(log.state.checkpointReads).toBe(1);
    // Signed meanwhile: the later requests get the checkpoint of a read begun after they came.
    log.state.size = 2;
    log.releaseAll();
    expect(await first).toEqual({ found: true, value: 'tsa.test/log\n1\n' });
    await settle();
    expect(log.state.checkpointReads).toBe(2);
    log.releaseAll();
    for (const read of await Promise.all(later))
      expect(read).toEqual({ found: true, value: 'tsa.test/log\n2\n' });
    // Nothing kept.
    log.state.hold = false;
    await cache.checkpoint();
    expect(log.state.checkpointReads).toBe(3);
  });

  it('shares a failed read with the requests that came during it, and keeps nothing of it', async () => {
    const log = fakeLog();
    let fail = true;
    let reads = 0;
    const reader: LogReads = {
      ...log.reader,
      tile: () => {
        reads++;
        return fail
          ? Promise.reject(new Error('database unavailable'))
          : Promise.resolve({ found: true, value: new Uint8Array(8192) });
      },
    };
    const cache = new LogReadCache(reader);
    const results = await Promise.allSettled([cache.tile(hashTile(0)), cache.tile(hashTile(0))]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(reads).toBe(1);
    fail = false;
    expect(await cache.tile(hashTile(0))).toMatchObject({ found: true });
    expect(reads).toBe(2);
  });

  it('keeps at most its bound of bytes, the least recently used going first', async () => {
    const log = fakeLog();
    log.state.size = 256 * 10;
    // Room for three full hash tiles (8 KiB each).
    const cache = new LogReadCache(log.reader, 3 * 32 * FULL);
    for (const n of [0, 1, 2]) await cache.tile(hashTile(n));
    expect(log.state.tileReads).toBe(3);
    await cache.tile(hashTile(0)); // used: 1 is now the least recent
    await cache.tile(hashTile(3));
    expect(cache.bytes).toBe(3 * 32 * FULL);
    expect(log.state.tileReads).toBe(4);
    for (const n of [0, 2, 3]) await cache.tile(hashTile(n));
    expect(log.state.tileReads).toBe(4);
    await cache.tile(hashTile(1));
    expect(log.state.tileReads).toBe(5);
    // A full bundle larger than the whole bound is served, never kept.
    expect(await cache.tile(bundle(0))).toMatchObject({ found: true });
    expect(cache.bytes).toBe(3 * 32 * FULL);
  });
});
