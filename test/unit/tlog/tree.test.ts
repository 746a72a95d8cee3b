import { describe, expect, it } from 'vitest';
import {
  checkRecord,
  checkTree,
  hashEqual,
  hashFromTile,
  MAX_TREE_SIZE,
  MemoryHashStorage,
  newTiles,
  proveRecord,
  proveTree,
  readTileData,
  recordHash,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashIndex,
  tileForIndex,
  tileHashReader,
  tilePath,
  treeHash,
  TlogError,
  type Hash,
  type Tile,
  type TileReader,
} from '../../../src/tlog/index.js';

/**
 * A port of TestTree and TestSplitStoredHashIndex from Go's golang.org/x/mod/sumdb/tlog
 * (tlog_test.go, Copyright 2019 The Go Authors, BSD-style licence; Debian's
 * golang-golang-x-mod-dev, /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog_test.go).
 */

const key = (t: Tile): string => `${t.h}/${t.l}/${t.n}/${t.w}`;

class TestTilesStorage implements TileReader {
  unsaved = 0;
  constructor(readonly m: Map<string, Uint8Array>) {}
  height(): number {
    return 2;
  }
  saveTiles(tiles: readonly Tile[]): void {
    this.unsaved -= tiles.length;
  }
  readTiles(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    this.unsaved += tiles.length;
    return Promise.resolve(tiles.map((t) => this.m.get(key(t)) ?? new Uint8Array(0)));
  }
}

const flip = (p: Hash[], k: number): void => {
  p[k]![0]! ^= 1;
};

describe('tlog tree (Go TestTree)', () => {
  it('stores hashes, proves records and trees, and reads them back from tiles', async () => {
    const trees: Hash[] = [];
    const leafhashes: Hash[] = [];
    const storage = new MemoryHashStorage();
    const tiles = new Map<string, Uint8Array>();
    const testH = 2;
    for (let i = 0; i < 100; i++) {
      const data = new TextEncoder().encode(`leaf ${i}`);
      const hashes = await storedHashes(i, data, storage);
      leafhashes.push(recordHash(data));
      const oldStorage = storage.hashes.length;
      storage.hashes.push(...hashes);
      storage.size++;
      expect(storedHashCount(i + 1)).toBe(storage.hashes.length);
      const th = await treeHash(i + 1, storage);

      for (const tile of newTiles(testH, i, i + 1)) {
        const tileData = await readTileData(tile, storage);
        const oldData = tiles.get(key({ ...tile, w: tile.w - 1 })) ?? new Uint8Array(0);
        expect(oldData.length).toBe(tileData.length - 32);
        expect(Buffer.from(tileData.subarray(0, oldData.length))).toEqual(Buffer.from(oldData));
        tiles.set(key(tile), tileData);
      }
      for (const [from] of [[0], [Math.floor(i / 2)]] as const) {
        for (const tile of newTiles(testH, from, i + 1))
          expect(Buffer.from(tiles.get(key(tile))!)).toEqual(
            Buffer.from(await readTileData(tile, storage)),
          );
      }
      // Every new hash is readable from its tile.
      for (let j = oldStorage; j < storage.hashes.length; j++) {
        const tile = tileForIndex(testH, j);
        const tileData = tiles.get(key(tile));
        expect(tileData, `tile for ${j}`).toBeDefined();
        expect(hashEqual(hashFromTile(tile, tileData!, j), storage.hashes[j]!)).toBe(true);
      }
      trees.push(th);

      // Record proofs for all trees and leaves so far, and corrupt ones fail.
      for (let j = 0; j <= i; j++) {
        const p = await proveRecord(i + 1, j, storage);
        checkRecord(p, i + 1, th, j, leafhashes[j]!);
        for (let k = 0; k < p.length; k++) {
          flip(p, k);
          expect(() => checkRecord(p, i + 1, th, j, leafhashes[j]!)).toThrow(TlogError);
          flip(p, k);
        }
      }

      // Record proofs through the tile reader.
      const tileStorage = new TestTilesStorage(tiles);
      const thr = tileHashReader({ n: i + 1, hash: th }, tileStorage);
      for (let j = 0; j <= i; j++) {
        const [h] = await thr.readHashes([storedHashIndex(0, j)]);
        expect(hashEqual(h!, leafhashes[j]!)).toBe(true);
        const p = await proveRecord(i + 1, j, thr);
        checkRecord(p, i + 1, th, j, leafhashes[j]!);
      }
      expect(tileStorage.unsaved).toBe(0);
      await expect(thr.readHashes([(i + 1) * 2])).rejects.toThrow(TlogError);
      expect(tileStorage.unsaved).toBe(0);

      // Tree proofs for all trees so far, through the tile reader.
      for (let j = 0; j <= i; j++) {
        expect(hashEqual(await treeHash(j + 1, thr), trees[j]!)).toBe(true);
        const p = await proveTree(i + 1, j + 1, thr);
        checkTree(p, i + 1, th, j + 1, trees[j]!);
        for (let k = 0; k < p.length; k++) {
          flip(p, k);
          expect(() => checkTree(p, i + 1, th, j + 1, trees[j]!)).toThrow(TlogError);
          flip(p, k);
        }
      }
      expect(tileStorage.unsaved).toBe(0);
    }
  });

  it('splits stored hash indexes back into level and offset (Go TestSplitStoredHashIndex)', () => {
    for (let l = 0; l < 10; l++)
      for (let n = 0; n < 100; n++)
        expect(splitStoredHashIndex(storedHashIndex(l, n))).toEqual([l, n]);
  });

  it('numbers beyond 32 bits: no JavaScript bit operator truncation', () => {
    const n = 2 ** 40 + 12345;
    expect(splitStoredHashIndex(storedHashIndex(3, n))).toEqual([3, n]);
    expect(storedHashCount(2 ** 33)).toBe(2 * 2 ** 33 - 1);
    expect(tileForIndex(8, storedHashIndex(0, 2 ** 35 + 7))).toEqual({
      h: 8,
      l: 0,
      n: 2 ** 27,
      w: 8,
    });
  });

  it('matches the RFC 6962 test vector of the certificate-transparency reference code', async () => {
    // Leaves and roots from github.com/google/certificate-transparency (merkle_tree_test.cc),
    // the inputs also used by transparency-dev/merkle.
    const leaves = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const storage = new MemoryHashStorage();
    for (const [i, leaf] of leaves.entries()) {
      await storage.append(Buffer.from(leaf, 'hex'));
      expect(Buffer.from(await treeHash(i + 1, storage)).toString('hex')).toBe(roots[i]);
    }
    // The empty tree is SHA-256 of nothing (RFC 6962 section 2.1).
    expect(Buffer.from(await treeHash(0, storage)).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  /**
   * A tile hash reader over the tiles of a 300-record tree (height 8), one octet of the tile at
   * `tampered` flipped.
   */
  async function readerOf300(tampered: Tile, octet: number) {
    const storage = new MemoryHashStorage();
    for (let i = 0; i < 300; i++) await storage.append(new TextEncoder().encode(`e${i}`));
    const tiles = new Map<string, Uint8Array>();
    for (const tile of newTiles(8, 0, 300)) tiles.set(key(tile), await readTileData(tile, storage));
    const changed = tiles.get(key(tampered))!.slice();
    changed[octet] = changed[octet]! ^ 1;
    tiles.set(key(tampered), changed);
    const reader: TileReader = {
      height: () => 8,
      readTiles: (ts) => Promise.resolve(ts.map((t) => tiles.get(key(t))!)),
    };
    return tileHashReader({ n: 300, hash: await treeHash(300, storage) }, reader);
  }

  it('authenticates every full tile, also when the tree-hash tiles share a tile', async () => {
    // Size 300: the subtree hashes of [256, 300) all sit in tile/0/001.p/44, so the tree hash needs
    // two tiles for four hashes. Go's TileHashReader then skips authenticating tile/0/000 and
    // returns a tampered leaf hash (golang.org/x/mod/sumdb/tlog as packaged by Debian).
    const thr = await readerOf300({ h: 8, l: 0, n: 0, w: 256 }, 40);
    await expect(thr.readHashes([storedHashIndex(0, 1)])).rejects.toMatchObject({
      code: 'INCONSISTENT_TILE',
    });
    await expect(thr.readHashes([storedHashIndex(0, 299)])).resolves.toHaveLength(1);
  });

  it('authenticates the rightmost partial tile against the tree hash', async () => {
    // tile/0/001.p/44 has no parent tile: only the recomputed tree hash vouches for it. The octet
    // flipped is in record 299's leaf hash, the one read.
    const thr = await readerOf300({ h: 8, l: 0, n: 1, w: 44 }, 43 * 32);
    await expect(thr.readHashes([storedHashIndex(0, 299)])).rejects.toMatchObject({
      code: 'INCONSISTENT_TILE',
    });
  });

  it('compares hashes in full: a difference in the last octet makes them unequal', () => {
    const a = recordHash(new TextEncoder().encode('a'));
    const b = a.slice();
    b[31] = b[31]! ^ 1;
    expect(hashEqual(a, a.slice())).toBe(true);
    expect(hashEqual(a, b)).toBe(false);
  });

  it('checks inclusion proofs strictly: record n = t is out of range, a leftover hash is refused', async () => {
    const storage = new MemoryHashStorage();
    const leaves: Hash[] = [];
    for (let i = 0; i < 5; i++) {
      const data = new TextEncoder().encode(`r${i}`);
      leaves.push(recordHash(data));
      await storage.append(data);
    }
    const root = await treeHash(5, storage);
    const proof = await proveRecord(5, 4, storage);
    checkRecord(proof, 5, root, 4, leaves[4]!);
    // The last record's proof also folds up to the root as if for n = t: the range check alone
    // refuses it.
    expect(() => checkRecord(proof, 5, root, 5, leaves[4]!)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
    // An extra hash before the proof is never consumed: the proof is not the one for this tree.
    const padded = [new Uint8Array(32), ...(await proveRecord(5, 2, storage))];
    expect(() => checkRecord(padded, 5, root, 2, leaves[2]!)).toThrow(
      expect.objectContaining({ code: 'BAD_PROOF' }),
    );
  });

  it('rejects inputs out of range as Go does', async () => {
    const storage = new MemoryHashStorage();
    await storage.append(new Uint8Array([1]));
    await expect(proveRecord(1, 1, storage)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(proveTree(1, 0, storage)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(() => checkRecord([], 1, new Uint8Array(32), 2, new Uint8Array(32))).toThrow(TlogError);
    expect(() => checkTree([], 0, new Uint8Array(32), 0, new Uint8Array(32))).toThrow(TlogError);
  });

  it('counts stored-hash indexes exactly up to MAX_TREE_SIZE (2^52), where 2^53 would not', () => {
    // Go's storedHashIndex in 64-bit integers, as the reference.
    const exact = (level: number, n: number): bigint => {
      let m = BigInt(n);
      for (let l = level; l > 0; l--) m = 2n * m + 1n;
      let i = 0n;
      for (; m > 0n; m >>= 1n) i += m;
      return i + BigInt(level);
    };
    expect(MAX_TREE_SIZE).toBe(2 ** 52);
    // Of a tree of `size` entries: the last complete subtree at each level, and at level 0 the
    // index just past the tree (tileHashReader's bound).
    for (const size of [MAX_TREE_SIZE, MAX_TREE_SIZE - 1, MAX_TREE_SIZE - 12345, 2 ** 51 + 3]) {
      expect(BigInt(storedHashIndex(0, size))).toBe(exact(0, size));
      for (const level of [0, 1, 8, 16, 40, 52]) {
        const n = Math.floor(size / 2 ** level) - 1;
        if (n >= 0) expect(BigInt(storedHashIndex(level, n))).toBe(exact(level, n));
      }
    }
    expect(storedHashIndex(0, MAX_TREE_SIZE)).toBe(Number.MAX_SAFE_INTEGER);
    // The precision lost one bit further: what made tiles of a tree of 2^53 - 1 nonsense.
    expect(BigInt(storedHashIndex(0, 2 ** 53 - 1))).not.toBe(exact(0, 2 ** 53 - 1));
  });

  it('tileHashReader refuses a tree larger than MAX_TREE_SIZE before reading any tile', async () => {
    const requested: string[] = [];
    const reader: TileReader = {
      height: () => 8,
      readTiles: (ts) => {
        requested.push(...ts.map(tilePath));
        return Promise.resolve(ts.map((t) => new Uint8Array(t.w * 32)));
      },
    };
    for (const n of [MAX_TREE_SIZE + 1, 2 ** 53 - 1]) {
      expect(() => tileHashReader({ n, hash: new Uint8Array(32) }, reader)).toThrow(
        expect.objectContaining({
          code: 'TREE_TOO_LARGE',
          message: `tree size ${n} is beyond what this client supports (at most 2^52 entries)`,
        }),
      );
    }
    expect(requested).toEqual([]);
    // At the limit, the tiles asked for are the right ones: a partial tile of 16 at level 6,
    // full tiles below it down to record 0's.
    const atLimit = tileHashReader({ n: MAX_TREE_SIZE, hash: new Uint8Array(32) }, reader);
    await expect(atLimit.readHashes([storedHashIndex(0, 0)])).rejects.toMatchObject({
      code: 'INCONSISTENT_TILE',
    });
    expect(requested).toEqual([
      'tile/6/000.p/16',
      'tile/5/000',
      'tile/4/000',
      'tile/3/000',
      'tile/2/000',
      'tile/1/000',
      'tile/0/000',
    ]);
  });
});
