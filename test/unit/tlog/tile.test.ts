import { describe, expect, it } from 'vitest';
import {
  formatEntryBundle,
  newTiles,
  parseEntryBundle,
  parseTilePath,
  tilePath,
  TlogError,
  type Tile,
} from '../../../src/tlog/index.js';

/**
 * Tile paths. The first table is Go's tilePaths (golang.org/x/mod/sumdb/tlog/tile_test.go in
 * tlog_test.go, Copyright 2019 The Go Authors, BSD-style licence) rewritten to C2SP tlog-tiles
 * paths, which drop Go's height element ("tile/4/0/001" → "tile/0/001" for height 4) and spell
 * Go's "data" level "entries".
 */
const goTilePaths: { path: string; tile: Tile | undefined }[] = [
  { path: 'tile/0/001', tile: { h: 4, l: 0, n: 1, w: 16 } },
  { path: 'tile/0/001.p/5', tile: { h: 4, l: 0, n: 1, w: 5 } },
  { path: 'tile/5/x123/x456/078', tile: { h: 3, l: 5, n: 123456078, w: 8 } },
  { path: 'tile/5/x123/x456/078.p/2', tile: { h: 3, l: 5, n: 123456078, w: 2 } },
  { path: 'tile/0/x003/x057/500', tile: { h: 1, l: 0, n: 3057500, w: 2 } },
  { path: 'tile/5/123/456/078', tile: undefined },
  { path: 'tile/-1/123/456/078', tile: undefined },
  { path: 'tile/entries/x003/x057/500', tile: { h: 1, l: -1, n: 3057500, w: 2 } },
];

describe('tile paths', () => {
  it.each(goTilePaths)('$path (Go vector)', ({ path, tile }) => {
    if (tile) {
      expect(tilePath(tile)).toBe(path);
      expect(parseTilePath(path, tile.h)).toEqual(tile);
    } else {
      expect(() => parseTilePath(path, 3)).toThrow(TlogError);
    }
  });

  it('writes the C2SP examples: x001/x234/067, partial widths, entry bundles', () => {
    expect(tilePath({ h: 8, l: 0, n: 1234067, w: 256 })).toBe('tile/0/x001/x234/067');
    expect(tilePath({ h: 8, l: 2, n: 0, w: 1 })).toBe('tile/2/000.p/1');
    expect(tilePath({ h: 8, l: -1, n: 273, w: 112 })).toBe('tile/entries/273.p/112');
    expect(parseTilePath('tile/entries/273.p/112')).toEqual({ h: 8, l: -1, n: 273, w: 112 });
    expect(parseTilePath('tile/63/999')).toEqual({ h: 8, l: 63, n: 999, w: 256 });
  });

  it.each([
    'tile/0/1',
    'tile/00/001',
    'tile/64/001',
    'tile/0/001.p/256',
    'tile/0/001.p/0',
    'tile/0/001.p/05',
    'tile/0/x001',
    'tile/0/001/002',
    'tile/0/x000/001',
    'tile/data/001',
    'tiles/0/001',
    'tile/0',
    'tile/0/001.p/',
    'tile/0/+01',
  ])('rejects the malformed or non-canonical path %s', (path) => {
    expect(() => parseTilePath(path)).toThrow(expect.objectContaining({ code: 'BAD_TILE' }));
  });
});

describe('tile paths beyond 2^53', () => {
  it('names a well-formed one TILE_OUT_OF_RANGE (no log has it), a malformed one BAD_TILE', () => {
    expect(() => parseTilePath('tile/0/x009/x007/x199/x254/x740/x991/000')).toThrow(
      expect.objectContaining({ code: 'TILE_OUT_OF_RANGE' }),
    );
    expect(() => parseTilePath('tile/entries/x009/x007/x199/x254/x740/x991/000.p/7')).toThrow(
      expect.objectContaining({ code: 'TILE_OUT_OF_RANGE' }),
    );
    for (const path of [
      'tile/0/x000/x009/x007/x199/x254/x740/x991/000',
      'tile/0/009/x007/x199/x254/x740/x991/000',
      'tile/0/x009/x007/x199/x254/x740/x991/000.p/07',
      'tile/01/x009/x007/x199/x254/x740/x991/000',
    ]) {
      expect(() => parseTilePath(path), path).toThrow(
        expect.objectContaining({ code: 'BAD_TILE' }),
      );
    }
    // The largest index a number counts exactly is still a tile.
    expect(parseTilePath('tile/0/x009/x007/x199/x254/x740/991')).toMatchObject({
      n: Number.MAX_SAFE_INTEGER,
    });
  });
});

describe('newTiles', () => {
  it("lists what Go's NewTiles lists: the old tree's partial tiles again, then the new ones", () => {
    // golang.org/x/mod/sumdb/tlog NewTiles: minW = oldN - n<<H, and no level is skipped.
    expect(newTiles(8, 300, 301).map(tilePath)).toEqual([
      'tile/0/001.p/44',
      'tile/0/001.p/45',
      'tile/1/000.p/1',
    ]);
    expect(newTiles(8, 255, 257).map(tilePath)).toEqual([
      'tile/0/000',
      'tile/0/001.p/1',
      'tile/1/000.p/1',
    ]);
    expect(newTiles(8, 0, 0)).toEqual([]);
  });
});

describe('entry bundles', () => {
  it('round-trips big-endian uint16 length-prefixed entries', () => {
    const entries = [new Uint8Array([]), new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(7)];
    const bundle = formatEntryBundle(entries);
    expect(Buffer.from(bundle.subarray(0, 7)).toString('hex')).toBe('00000003010203');
    expect(bundle[7]).toBe(0x01);
    expect(bundle[8]).toBe(0x2c);
    expect(parseEntryBundle(bundle).map((e) => Buffer.from(e))).toEqual(
      entries.map((e) => Buffer.from(e)),
    );
  });

  it('rejects truncated bundles and oversized entries', () => {
    expect(() => parseEntryBundle(new Uint8Array([0]))).toThrow(
      expect.objectContaining({ code: 'BAD_ENTRY_BUNDLE' }),
    );
    expect(() => parseEntryBundle(new Uint8Array([0, 3, 1, 2]))).toThrow(
      expect.objectContaining({ code: 'BAD_ENTRY_BUNDLE' }),
    );
    expect(() => formatEntryBundle([new Uint8Array(65536)])).toThrow(TlogError);
  });

  it('holds at most 256 entries: a body of zero octets is refused at the 257th, not parsed whole', () => {
    const full = formatEntryBundle(Array.from({ length: 256 }, () => new Uint8Array(0)));
    expect(parseEntryBundle(full)).toHaveLength(256);
    expect(() => parseEntryBundle(new Uint8Array(20 << 20))).toThrow(
      expect.objectContaining({
        code: 'BAD_ENTRY_BUNDLE',
        message: expect.stringContaining('more than 256 entries'),
      }),
    );
  });

  it('refuses a bundle of exactly 257 entries: one past the limit, not only far past it', () => {
    const entries = Array.from({ length: 257 }, (_, i) => new Uint8Array([i & 0xff]));
    expect(() => parseEntryBundle(formatEntryBundle(entries))).toThrow(
      expect.objectContaining({
        code: 'BAD_ENTRY_BUNDLE',
        message: 'more than 256 entries in entry bundle',
      }),
    );
  });
});
