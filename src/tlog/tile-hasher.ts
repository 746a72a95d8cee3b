import { TlogError } from './errors.js';
import { EMPTY_TREE_HASH, HASH_SIZE, nodeHash, pow2, recordHash, type Hash } from './hash.js';
import { TILE_HEIGHT, tileHash, type Tile } from './tile.js';

/** A hash tile and its data: its w hashes. */
export interface TileData {
  tile: Tile;
  data: Uint8Array;
}

/**
 * The hash tiles of a tree recomputed from its records as they come, in order, holding only the
 * right edge: the hashes of one unfinished tile per level (at most 2^h of them, 8 KiB for h = 8),
 * so O(log n) memory where a whole stored-hash storage (MemoryHashStorage) holds two hashes per
 * record. Each tile is handed out when its last hash comes, and the tree's root hash and its
 * partial tiles are read from the right edge at any size.
 *
 * The tiles are those of Go's tlog.ReadTileData over the tree's stored hashes, and the root that
 * of tlog.TreeHash: a full tile at level l is the tree's hashes at level h*l, n*2^h to n*2^h+2^h-1;
 * its tile hash (tileHash) is the stored hash at level h*(l+1) and offset n, which is the next hash
 * of level l+1. Each interior node is hashed once: 2^h-1 node hashes a full tile.
 */
export class TileHasher {
  /** Per tile level, the hashes of its unfinished tile so far: 2^h slots of HASH_SIZE bytes. */
  private readonly edges: Uint8Array[] = [];
  /** Per tile level, how many hashes its unfinished tile holds. */
  private readonly widths: number[] = [];
  /** Per tile level, the offset n of its unfinished tile. */
  private readonly offsets: number[] = [];
  /** The number of records appended. */
  size = 0;

  /** `h`: the tile height, 1 to 30 (C2SP: 8). */
  constructor(readonly h: number = TILE_HEIGHT) {
    if (!(Number.isInteger(h) && h >= 1 && h <= 30))
      throw new TlogError('BAD_INPUT', `TileHasher: invalid height ${h}`);
  }

  /** Appends the next record; returns the full tiles it completed, lowest level first. */
  append(record: Uint8Array): TileData[] {
    return this.appendLeafHash(recordHash(record));
  }

  /**
   * Appends the next record by its leaf hash (recordHash of the record); returns the full tiles it
   * completed, lowest level first. Their data is handed over, never written again.
   */
  appendLeafHash(leaf: Hash): TileData[] {
    if (leaf.length !== HASH_SIZE)
      throw new TlogError(
        'BAD_INPUT',
        `TileHasher: a hash is ${HASH_SIZE} bytes, not ${leaf.length}`,
      );
    if (!Number.isSafeInteger(this.size + 1))
      throw new TlogError('BAD_INPUT', 'TileHasher: tree too large');
    const full: TileData[] = [];
    const width = pow2(this.h);
    let hash = leaf;
    for (let level = 0; ; level++) {
      if (level === this.edges.length) {
        this.edges.push(new Uint8Array(width * HASH_SIZE));
        this.widths.push(0);
        this.offsets.push(0);
      }
      const w = this.widths[level]!;
      this.edges[level]!.set(hash, w * HASH_SIZE);
      if (w + 1 < width) {
        this.widths[level] = w + 1;
        break;
      }
      // The tile is full: hand it out, and its tile hash is the next hash of the level above.
      const data = this.edges[level]!;
      const n = this.offsets[level]!;
      full.push({ tile: { h: this.h, l: level, n, w: width }, data });
      hash = tileHash(data);
      this.edges[level] = new Uint8Array(width * HASH_SIZE);
      this.widths[level] = 0;
      this.offsets[level] = n + 1;
    }
    this.size++;
    return full;
  }

  /**
   * The partial tiles of the tree at its current size, lowest level first: one per level whose
   * unfinished tile holds hashes. With the full tiles handed out so far, these are every tile
   * the tree has (Go's NewTiles(h, 0, size) at their final widths).
   */
  partialTiles(): TileData[] {
    const tiles: TileData[] = [];
    this.widths.forEach((w, level) => {
      if (w === 0) return;
      tiles.push({
        tile: { h: this.h, l: level, n: this.offsets[level]!, w },
        data: this.edges[level]!.slice(0, w * HASH_SIZE),
      });
    });
    return tiles;
  }

  /** The root hash of the tree at its current size (EMPTY_TREE_HASH for none). */
  treeHash(): Hash {
    if (this.size === 0) return EMPTY_TREE_HASH;
    // The complete subtrees that make up the tree, largest first (tlog.subTreeIndex): the top
    // level's hashes first, and in each level's partial tile its power-of-two runs, widest first.
    const subtrees: Hash[] = [];
    for (let level = this.widths.length - 1; level >= 0; level--) {
      const w = this.widths[level]!;
      const edge = this.edges[level]!;
      let start = 0;
      for (let k = this.h; k >= 0; k--) {
        if ((w & pow2(k)) === 0) continue;
        subtrees.push(tileHash(edge.subarray(start * HASH_SIZE, (start + pow2(k)) * HASH_SIZE)));
        start += pow2(k);
      }
    }
    let hash = subtrees[subtrees.length - 1]!;
    for (let i = subtrees.length - 2; i >= 0; i--) hash = nodeHash(subtrees[i]!, hash);
    return hash;
  }
}
