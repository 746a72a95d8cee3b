import { describe, expect, it } from 'vitest';
import {
  EMPTY_TREE_HASH,
  formatHash,
  latestTilesReader,
  MemoryHashStorage,
  pow2,
  readTileData,
  recordHash,
  shr,
  storedHashIndex,
  tileHash,
  TileHasher,
  tileHashReader,
  treeHash,
  TlogError,
  type Tile,
  type TileData,
  type TileReader,
} from '../../../src/tlog/index.js';

/**
 * TileHasher against the whole-tree storage (MemoryHashStorage, Go's testHashStorage): the same
 * root hash and the same tiles, from the right edge alone. Go's own tiles of a 70,000-entry log
 * are compared in test/integration/tlog/go-interop.test.ts.
 */

const record = (i: number): Uint8Array => new TextEncoder().encode(`record ${i}`);
const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex');

/** Every hash tile of the tree of `size` records at height h, by path: full and partial ones. */
function tilesOfTree(h: number, size: number): Tile[] {
  const tiles: Tile[] = [];
  for (let level = 0; shr(size, h * level) > 0; level++) {
    const hashes = shr(size, h * level);
    for (let n = 0; n * pow2(h) < hashes; n++)
      tiles.push({ h, l: level, n, w: Math.min(pow2(h), hashes - n * pow2(h)) });
  }
  return tiles;
}

const describeTile = (t: Tile): string => `${t.h}/${t.l}/${t.n}/${t.w}`;

/** Appends `size` records to both; returns the tiles the hasher handed out and its partial ones. */
async function build(h: number, size: number) {
  const hasher = new TileHasher(h);
  const storage = new MemoryHashStorage();
  const full: TileData[] = [];
  for (let i = 0; i < size; i++) {
    full.push(...hasher.append(record(i)));
    await storage.append(record(i));
  }
  return { hasher, storage, full, partial: hasher.partialTiles() };
}

describe('TileHasher', () => {
  it('computes the root hash of every size, as TreeHash over all stored hashes', async () => {
    for (const h of [1, 2, 3]) {
      const hasher = new TileHasher(h);
      const storage = new MemoryHashStorage();
      expect(hasher.treeHash()).toEqual(EMPTY_TREE_HASH);
      for (let i = 0; i < 150; i++) {
        hasher.append(record(i));
        await storage.append(record(i));
        expect(hasher.size).toBe(i + 1);
        expect(formatHash(hasher.treeHash()), `h=${h} size=${i + 1}`).toBe(
          formatHash(await treeHash(i + 1, storage)),
        );
      }
    }
  });

  it.each([
    [2, 0],
    [2, 1],
    [2, 4],
    [2, 5],
    [2, 16],
    [2, 63],
    [2, 64],
    [2, 65],
    [2, 100],
    [8, 1],
    [8, 255],
    [8, 256],
    [8, 257],
    [8, 300],
    [8, 65_535],
    [8, 65_536],
    [8, 65_537],
  ])(
    'hands out every tile of the tree (h=%i, %i records), full ones as they fill, each the stored hashes',
    async (h, size) => {
      const { hasher, storage, full, partial } = await build(h, size);
      const handedOut = [...full, ...partial];
      // Every tile the tree has, once, in level order within each kind.
      expect(handedOut.map(({ tile }) => describeTile(tile)).sort()).toEqual(
        tilesOfTree(h, size).map(describeTile).sort(),
      );
      expect(full.every(({ tile }) => tile.w === pow2(h))).toBe(true);
      expect(partial.every(({ tile }) => tile.w < pow2(h))).toBe(true);
      for (const { tile, data } of handedOut)
        expect(hex(data), describeTile(tile)).toBe(hex(await readTileData(tile, storage)));
      expect(formatHash(hasher.treeHash())).toBe(formatHash(await treeHash(size, storage)));
    },
  );

  it('hands a full tile out when its last hash comes, and the tiles it completes above it', () => {
    const hasher = new TileHasher(2);
    const completed = Array.from({ length: 16 }, (_, i) =>
      hasher.append(record(i)).map(({ tile }) => describeTile(tile)),
    );
    expect(completed.slice(0, 3)).toEqual([[], [], []]);
    expect(completed[3]).toEqual(['2/0/0/4']);
    expect(completed[15]).toEqual(['2/0/3/4', '2/1/0/4']);
    expect(hasher.partialTiles().map(({ tile }) => tile)).toEqual([{ h: 2, l: 2, n: 0, w: 1 }]);
  });

  it('holds the right edge only: one tile of hashes per level', () => {
    const hasher = new TileHasher(8);
    const leaf = recordHash(record(0));
    for (let i = 0; i < 70_000; i++) hasher.appendLeafHash(leaf);
    const edges = (hasher as unknown as { edges: Uint8Array[] }).edges;
    expect(edges).toHaveLength(3);
    expect(edges.every((edge) => edge.length === 256 * 32)).toBe(true);
  });

  it('refuses a height out of range and a hash that is not 32 bytes', () => {
    for (const h of [0, 31, 1.5, Number.NaN]) expect(() => new TileHasher(h)).toThrow(TlogError);
    expect(() => new TileHasher().appendLeafHash(new Uint8Array(31))).toThrow(
      'TileHasher: a hash is 32 bytes, not 31',
    );
  });
});

describe('tileHash', () => {
  it('hashes 2^k hashes and refuses any other length', () => {
    const leaf = recordHash(record(1));
    expect(tileHash(leaf)).toEqual(leaf);
    for (const length of [0, 31, 33, 3 * 32, 6 * 32])
      expect(() => tileHash(new Uint8Array(length))).toThrow(TlogError);
  });
});

describe('latestTilesReader', () => {
  /** A reader of the tiles of `storage`'s tree of `size`, at height 2, counting what it reads. */
  function counting(storage: MemoryHashStorage): TileReader & { read: string[] } {
    const read: string[] = [];
    return {
      read,
      height: () => 2,
      readTiles: async (tiles) => {
        read.push(...tiles.map(describeTile));
        return Promise.all(tiles.map((tile) => readTileData(tile, storage)));
      },
    };
  }

  it('reads each tile once when a tileHashReader walks the records in order, keeping a few', async () => {
    const size = 100;
    const storage = new MemoryHashStorage();
    for (let i = 0; i < size; i++) await storage.append(record(i));
    const inner = counting(storage);
    const thr = tileHashReader(
      { n: size, hash: await treeHash(size, storage) },
      latestTilesReader(inner),
    );
    for (let start = 0; start < size; start += 4) {
      const indexes = Array.from({ length: Math.min(4, size - start) }, (_, i) =>
        storedHashIndex(0, start + i),
      );
      const hashes = await thr.readHashes(indexes);
      expect(hashes.map(hex)).toEqual((await storage.readHashes(indexes)).map((hash) => hex(hash)));
    }
    // Each tile of the tree read once.
    expect(new Set(inner.read).size).toBe(inner.read.length);
    expect(inner.read.sort()).toEqual(tilesOfTree(2, size).map(describeTile).sort());
  });

  it('answers what the reader answered, in the order asked, a kept tile and a new one together', async () => {
    const storage = new MemoryHashStorage();
    for (let i = 0; i < 20; i++) await storage.append(record(i));
    const inner = counting(storage);
    const reader = latestTilesReader(inner);
    const a: Tile = { h: 2, l: 0, n: 0, w: 4 };
    const b: Tile = { h: 2, l: 0, n: 1, w: 4 };
    const p: Tile = { h: 2, l: 1, n: 1, w: 1 };
    const [first] = await reader.readTiles([a]);
    const answer = await reader.readTiles([b, a, p, b]);
    expect(answer.map(hex)).toEqual(
      await Promise.all([b, a, p, b].map(async (t) => hex(await readTileData(t, storage)))),
    );
    expect(hex(answer[1]!)).toBe(hex(first!));
    // b replaced a in the level-0 full slot; p has a slot of its own.
    expect(inner.read).toEqual(['2/0/0/4', '2/0/1/4', '2/1/1/1']);
    await reader.readTiles([b, p]);
    expect(inner.read).toHaveLength(3);
    await reader.readTiles([a]);
    expect(inner.read).toHaveLength(4);
  });

  it('refuses a reader that answers the wrong number of tiles, and passes saveTiles on', async () => {
    const saved: Tile[] = [];
    const reader = latestTilesReader({
      height: () => 8,
      readTiles: () => Promise.resolve([]),
      saveTiles: (tiles) => void saved.push(...tiles),
    });
    expect(reader.height()).toBe(8);
    await expect(reader.readTiles([{ h: 8, l: 0, n: 0, w: 1 }])).rejects.toMatchObject({
      code: 'BAD_READER',
    });
    reader.saveTiles!([{ h: 8, l: 0, n: 0, w: 1 }], [new Uint8Array(32)]);
    expect(saved).toHaveLength(1);
    expect(
      latestTilesReader({ height: () => 8, readTiles: () => Promise.resolve([]) }).saveTiles,
    ).toBe(undefined);
  });
});
