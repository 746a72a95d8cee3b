import { TlogError } from './errors.js';
import {
  HASH_SIZE,
  hashEqual,
  MAX_TREE_SIZE,
  nodeHash,
  pow2,
  readHashesChecked,
  shr,
  splitStoredHashIndex,
  storedHashIndex,
  subTreeIndex,
  type Hash,
  type HashReader,
  type Tree,
} from './hash.js';

/**
 * Tiles of Go's golang.org/x/mod/sumdb/tlog (tile.go) with the paths of C2SP tlog-tiles: a tile of
 * height h at level l and offset n lists w consecutive hashes at tree level h*l starting at offset
 * n*2^h; level -1 is the entry bundle holding the records themselves. C2SP fixes h = 8 and drops
 * it from the path ("tile/<L>/<N>[.p/<W>]", "tile/entries/<N>[.p/<W>]"), where Go writes
 * "tile/<H>/<L>/…" and "data" for level -1.
 *
 * Ported from Go, Copyright 2019 The Go Authors, BSD-style licence (see the Go source).
 */

/** The tile height of C2SP tlog-tiles. */
export const TILE_HEIGHT = 8;

export interface Tile {
  /** height, 1..30 (C2SP: 8) */
  h: number;
  /** level, -1 (entry bundle) to 63 */
  l: number;
  /** offset within the level */
  n: number;
  /** width, 1..2^h; 2^h is a full tile */
  w: number;
}

/** The tile of height h and least width that holds the stored hash `index`. */
export function tileForIndex(h: number, index: number): Tile {
  if (!(h >= 1 && h <= 30)) throw new TlogError('BAD_INPUT', `tileForIndex: invalid height ${h}`);
  return locate(h, index).tile;
}

/** The tile holding `index`, and the byte range of its data that hashes to it (Go's tileForIndex). */
function locate(h: number, index: number): { tile: Tile; start: number; end: number } {
  const [storedLevel, storedN] = splitStoredHashIndex(index);
  const l = Math.floor(storedLevel / h);
  const level = storedLevel - l * h; // level within the tile
  const n = shr(storedN * pow2(level), h);
  const within = storedN - shr(n * pow2(h), level); // offset within the tile at that level
  const w = (within + 1) * pow2(level);
  return {
    tile: { h, l, n, w },
    start: within * pow2(level) * HASH_SIZE,
    end: (within + 1) * pow2(level) * HASH_SIZE,
  };
}

/**
 * The hash at stored-hash `index` from tile t's data, provided t is tileForIndex(t.h, index) or a
 * wider version of it.
 */
export function hashFromTile(t: Tile, data: Uint8Array, index: number): Hash {
  if (t.h < 1 || t.h > 30 || t.l < 0 || t.l >= 64 || t.w < 1 || t.w > pow2(t.h))
    throw new TlogError('BAD_TILE', `invalid tile ${describe(t)}`);
  if (data.length < t.w * HASH_SIZE)
    throw new TlogError('BAD_TILE', `data len ${data.length} too short for tile ${describe(t)}`);
  const { tile, start, end } = locate(t.h, index);
  if (t.l !== tile.l || t.n !== tile.n || t.w < tile.w)
    throw new TlogError('BAD_TILE', `index ${index} is in ${describe(tile)} not ${describe(t)}`);
  return tileHash(data.subarray(start, end));
}

/**
 * The subtree hash of the 2^k hashes in data (Go's unexported tileHash): of a full tile's data, the
 * tree's stored hash one tile level up.
 */
export function tileHash(data: Uint8Array): Hash {
  const count = data.length / HASH_SIZE;
  // A power of two: a whole number with one bit set.
  if (!(Number.isInteger(count) && count >= 1 && 2 ** Math.round(Math.log2(count)) === count))
    throw new TlogError('BAD_INPUT', `tileHash: ${data.length} bytes are not 2^k hashes`);
  return subtreeHash(data);
}

function subtreeHash(data: Uint8Array): Hash {
  if (data.length === HASH_SIZE) return data.slice();
  const half = data.length / 2;
  return nodeHash(subtreeHash(data.subarray(0, half)), subtreeHash(data.subarray(half)));
}

/**
 * The tiles of height h (hash tiles only; each level-0 tile has an entry bundle of the same n and
 * w) to publish when the tree grows from oldTreeSize to newTreeSize, as Go's NewTiles lists them:
 * new full tiles and every partial width from the old tree's to the new tree's. The old tree's
 * partial tile of each level is listed again, even where the level did not grow (300 to 301 lists
 * tile/0/001.p/44, .p/45 and tile/1/000.p/1): publishing a tile again is harmless, since a tile's
 * content never changes.
 */
export function newTiles(h: number, oldTreeSize: number, newTreeSize: number): Tile[] {
  if (!(h >= 1 && h <= 30)) throw new TlogError('BAD_INPUT', `newTiles: invalid height ${h}`);
  const tiles: Tile[] = [];
  for (let level = 0; shr(newTreeSize, h * level) > 0; level++) {
    const oldN = shr(oldTreeSize, h * level);
    const newN = shr(newTreeSize, h * level);
    for (let n = shr(oldN, h); n < shr(newN, h); n++) tiles.push({ h, l: level, n, w: pow2(h) });
    const n = shr(newN, h);
    const maxW = newN - n * pow2(h);
    const minW = oldN > n * pow2(h) ? oldN - n * pow2(h) : 1;
    for (let w = minW; w <= maxW; w++) tiles.push({ h, l: level, n, w });
  }
  return tiles;
}

/** The data of hash tile t: its w hashes, read from r. */
export async function readTileData(t: Tile, r: HashReader): Promise<Uint8Array> {
  if (t.l < 0) throw new TlogError('BAD_INPUT', 'readTileData: entry bundles hold no hashes');
  const size = t.w === 0 ? pow2(t.h) : t.w;
  const start = t.n * pow2(t.h);
  const indexes = Array.from({ length: size }, (_, i) => storedHashIndex(t.h * t.l, start + i));
  const hashes = await readHashesChecked(r, indexes);
  const tile = new Uint8Array(size * HASH_SIZE);
  hashes.forEach((hash, i) => tile.set(hash, i * HASH_SIZE));
  return tile;
}

const PATH_BASE = 1000;

/** The C2SP tlog-tiles path of t: "tile/0/x001/234", "tile/1/067.p/5", "tile/entries/000". */
export function tilePath(t: Tile): string {
  let n = t.n;
  let nStr = String(n % PATH_BASE).padStart(3, '0');
  while (n >= PATH_BASE) {
    n = Math.floor(n / PATH_BASE);
    nStr = `x${String(n % PATH_BASE).padStart(3, '0')}/${nStr}`;
  }
  const partial = t.w !== pow2(t.h) ? `.p/${t.w}` : '';
  const level = t.l === -1 ? 'entries' : String(t.l);
  return `tile/${level}/${nStr}${partial}`;
}

/**
 * Parses a C2SP tile path (tiles of height h, 8 by default); only the canonical spelling. A
 * well-formed path whose index N is beyond the 2^53 this library counts is TILE_OUT_OF_RANGE: it
 * names a tile that no log holds, not a malformed path.
 */
export function parseTilePath(path: string, h: number = TILE_HEIGHT): Tile {
  const bad = (): TlogError =>
    new TlogError('BAD_TILE', `malformed tile path ${JSON.stringify(path)}`);
  let f = path.split('/');
  if (f.length < 3 || f[0] !== 'tile') throw bad();
  const levelText = f[1]!;
  const l =
    levelText === 'entries' ? -1 : /^(0|[1-9]\d?)$/.test(levelText) ? Number(levelText) : NaN;
  if (Number.isNaN(l) || l > 63) throw bad();
  let w = pow2(h);
  const dotP = f[f.length - 2]!;
  if (dotP.endsWith('.p')) {
    const widthText = f[f.length - 1]!;
    const ww = /^[1-9]\d*$/.test(widthText) ? Number(widthText) : NaN;
    if (!(ww > 0 && ww < w)) throw bad();
    w = ww;
    f = [...f.slice(0, -2), dotP.slice(0, -'.p'.length)];
  }
  const elements = f.slice(2);
  if (!isCanonicalIndex(elements)) throw bad();
  const n = elements.reduce((sum, element) => sum * PATH_BASE + Number(element.slice(-3)), 0);
  // Well-formed, but beyond the indexes a JavaScript number counts: no log has that tile.
  if (!Number.isSafeInteger(n)) {
    throw new TlogError('TILE_OUT_OF_RANGE', `tile path ${JSON.stringify(path)} is beyond 2^53`);
  }
  const t: Tile = { h, l, n, w };
  if (tilePath(t) !== path) throw bad();
  return t;
}

/**
 * Whether the N elements of a tile path are as tilePath writes them: three digits each, an "x"
 * before all but the last, and a first element that is not x000.
 */
function isCanonicalIndex(elements: readonly string[]): boolean {
  const last = elements.length - 1;
  return elements.every((element, i) =>
    i === last
      ? /^\d{3}$/.test(element)
      : /^x\d{3}$/.test(element) && (i > 0 || element !== 'x000'),
  );
}

/** The largest entry an entry bundle can hold: its length is a big-endian uint16. */
export const MAX_ENTRY_OCTETS = 0xffff;

/** A C2SP entry bundle: each entry as a big-endian uint16 length and its bytes. */
export function formatEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  const size = entries.reduce((sum, entry) => sum + 2 + entry.length, 0);
  const bundle = new Uint8Array(size);
  let offset = 0;
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_OCTETS)
      throw new TlogError(
        'BAD_INPUT',
        `entry of ${entry.length} bytes exceeds ${MAX_ENTRY_OCTETS}`,
      );
    bundle[offset] = entry.length >> 8;
    bundle[offset + 1] = entry.length & 0xff;
    bundle.set(entry, offset + 2);
    offset += 2 + entry.length;
  }
  return bundle;
}

/**
 * The entries of a C2SP entry bundle: at most 2^TILE_HEIGHT (256), checked as they are read, so
 * that a hostile body of zero octets cannot become millions of empty entries. Each is a view of
 * `data`, not a copy.
 */
export function parseEntryBundle(data: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (entries.length === 2 ** TILE_HEIGHT)
      throw new TlogError(
        'BAD_ENTRY_BUNDLE',
        `more than ${2 ** TILE_HEIGHT} entries in entry bundle`,
      );
    if (offset + 2 > data.length)
      throw new TlogError('BAD_ENTRY_BUNDLE', 'truncated entry length in entry bundle');
    const length = data[offset]! * 256 + data[offset + 1]!;
    if (offset + 2 + length > data.length)
      throw new TlogError('BAD_ENTRY_BUNDLE', 'truncated entry in entry bundle');
    entries.push(data.subarray(offset + 2, offset + 2 + length));
    offset += 2 + length;
  }
  return entries;
}

/** Reads hash tiles from a log (Go's TileReader), usually over HTTP. */
export interface TileReader {
  /** The height of the tiles (C2SP: 8). */
  height(): number;
  /** The data of each tile, each exactly t.w * 32 bytes. */
  readTiles(tiles: readonly Tile[]): Promise<Uint8Array[]>;
  /** Called with tiles once they are authenticated against the tree, so they may be cached. */
  saveTiles?(tiles: readonly Tile[], data: readonly Uint8Array[]): void;
}

/**
 * A HashReader that loads tiles of the given tree from tr and authenticates them against the
 * tree's root hash before answering, so every hash it returns is proven to be in the tree. A tree
 * larger than MAX_TREE_SIZE (a checkpoint's size, read from a log) is refused here, before any
 * index of it is computed: a client starts its tile math, and its proofs over tiles, here.
 */
export function tileHashReader(tree: Tree, tr: TileReader): HashReader {
  if (tree.n > MAX_TREE_SIZE)
    throw new TlogError(
      'TREE_TOO_LARGE',
      `tree size ${tree.n} is beyond what this client supports (at most 2^52 entries)`,
    );
  return { readHashes: (indexes) => readTileHashes(tree, tr, indexes) };
}

const tileKey = (t: Tile): string => `${t.l}/${t.n}/${t.w}`;

/** t's k-th parent in the tiles of a tree of size n, or undefined when there is none. */
function tileParent(t: Tile, k: number, n: number): Tile | undefined {
  const parent: Tile = { h: t.h, l: t.l + k, n: shr(t.n, k * t.h), w: pow2(t.h) };
  const max = shr(n, parent.l * parent.h);
  if (parent.n * pow2(parent.h) + parent.w >= max) {
    if (parent.n * pow2(parent.h) >= max) return undefined;
    parent.w = max - parent.n * pow2(parent.h);
  }
  return parent;
}

async function readTileHashes(
  tree: Tree,
  tr: TileReader,
  indexes: readonly number[],
): Promise<Hash[]> {
  const h = tr.height();
  const tileOrder = new Map<string, number>();
  const tiles: Tile[] = [];
  const bad = (message: string): TlogError =>
    new TlogError('BAD_TILE', `bad math in tileHashReader: ${message}`);

  // Plan the tiles needed to recompute the tree hash: if it matches, they are authenticated.
  const stx = subTreeIndex(0, tree.n, []);
  if (stx.length === 0) throw new TlogError('BAD_TILE', 'indexes not in tree');
  const stxTileOrder = stx.map((x) => {
    const tile = tileParent(tileForIndex(h, x), 0, tree.n);
    if (!tile) throw bad(`no tile for ${x}`);
    const key = tileKey(tile);
    const j = tileOrder.get(key);
    if (j !== undefined) return j;
    tileOrder.set(key, tiles.length);
    tiles.push(tile);
    return tiles.length - 1;
  });

  // The tree-hash tiles may share tiles (several subtree hashes in one tile), so there may be fewer
  // of them than stx. Go's code starts authenticating at len(stx) and so skips the first index
  // tiles when they do: a tampered full tile went unnoticed (x/mod as in Debian; our fix).
  const stxTiles = tiles.length;

  // Plan the tiles holding the indexes, with the parents that authenticate them.
  const indexTileOrder = indexes.map((x) => {
    if (x >= storedHashIndex(0, tree.n)) throw new TlogError('BAD_TILE', 'indexes not in tree');
    const tile = tileForIndex(h, x);
    // Walk up to a tile already planned; that one will be authenticated.
    let k = 0;
    let order = -1;
    for (; ; k++) {
      const p = tileParent(tile, k, tree.n);
      const j = p && tileOrder.get(tileKey(p));
      if (j !== undefined) {
        if (k === 0) order = j;
        break;
      }
      if (!p) throw bad(`no planned parent for ${x}`);
    }
    // Walk back down, planning children after their parents.
    for (k--; k >= 0; k--) {
      const p = tileParent(tile, k, tree.n);
      // Only full tiles have parents, and this one has a parent.
      if (!p || p.w !== pow2(p.h)) throw bad(`${tree.n} ${x}`);
      tileOrder.set(tileKey(p), tiles.length);
      if (k === 0) order = tiles.length;
      tiles.push(p);
    }
    return order;
  });

  const data = await tr.readTiles(tiles);
  if (data.length !== tiles.length)
    throw new TlogError(
      'BAD_READER',
      `TileReader returned bad result slice (len=${data.length}, want ${tiles.length})`,
    );
  tiles.forEach((tile, i) => {
    if (data[i]!.length !== tile.w * HASH_SIZE)
      throw new TlogError(
        'BAD_TILE',
        `tile ${tilePath(tile)} is ${data[i]!.length} bytes, want ${tile.w * HASH_SIZE}`,
      );
  });

  // Authenticate the tiles of the tree hash, then full tiles against their parents.
  const last = stx.length - 1;
  let th = hashFromTile(tiles[stxTileOrder[last]!]!, data[stxTileOrder[last]!]!, stx[last]!);
  for (let i = stx.length - 2; i >= 0; i--)
    th = nodeHash(hashFromTile(tiles[stxTileOrder[i]!]!, data[stxTileOrder[i]!]!, stx[i]!), th);
  if (!hashEqual(th, tree.hash))
    throw new TlogError('INCONSISTENT_TILE', 'downloaded inconsistent tile');
  for (let i = stxTiles; i < tiles.length; i++) {
    const tile = tiles[i]!;
    const p = tileParent(tile, 1, tree.n);
    const j = p && tileOrder.get(tileKey(p));
    if (!p || j === undefined) throw bad(`lost parent of ${tilePath(tile)}`);
    const expected = hashFromTile(p, data[j]!, storedHashIndex(p.l * p.h, tile.n));
    if (!hashEqual(expected, tileHash(data[i]!)))
      throw new TlogError('INCONSISTENT_TILE', 'downloaded inconsistent tile');
  }
  tr.saveTiles?.(tiles, data);
  return indexes.map((x, i) => {
    const j = indexTileOrder[i]!;
    return hashFromTile(tiles[j]!, data[j]!, x);
  });
}

function describe(t: Tile): string {
  return t.h === TILE_HEIGHT ? tilePath(t) : `{h:${t.h} l:${t.l} n:${t.n} w:${t.w}}`;
}
