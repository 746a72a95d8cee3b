import { TlogError } from './errors.js';
import { pow2 } from './hash.js';
import { tilePath, type Tile, type TileReader } from './tile.js';

/**
 * A TileReader that keeps the latest tile it read at each level, one full and one partial, and
 * reads through `reader` only the tiles it does not hold. A tileHashReader asked for a tree's
 * records in order (an audit, bundle by bundle) asks for the same tree-hash tiles (the partial
 * ones of each level) and the same parents again and again: through this reader each tile is
 * read once, and what is kept is O(levels) tiles however large the tree, where a cache of every
 * tile read holds a hash per record. What it answers is what `reader` answered: the tileHashReader
 * still authenticates every tile, every time.
 */
export function latestTilesReader(reader: TileReader): TileReader {
  const kept = new Map<string, { path: string; data: Uint8Array }>();
  const slot = (t: Tile): string => `${t.l}/${t.w === pow2(t.h) ? 'full' : 'partial'}`;
  return {
    height: () => reader.height(),
    async readTiles(tiles) {
      const missing: Tile[] = [];
      const missingPaths = new Set<string>();
      for (const tile of tiles) {
        const path = tilePath(tile);
        if (kept.get(slot(tile))?.path !== path && !missingPaths.has(path)) {
          missing.push(tile);
          missingPaths.add(path);
        }
      }
      const read = missing.length > 0 ? await reader.readTiles(missing) : [];
      if (read.length !== missing.length)
        throw new TlogError(
          'BAD_READER',
          `TileReader returned bad result slice (len=${read.length}, want ${missing.length})`,
        );
      const fresh = new Map(missing.map((tile, i) => [tilePath(tile), read[i]!]));
      const answer = tiles.map((tile) => {
        const path = tilePath(tile);
        return fresh.get(path) ?? kept.get(slot(tile))!.data;
      });
      missing.forEach((tile, i) => kept.set(slot(tile), { path: tilePath(tile), data: read[i]! }));
      return answer;
    },
    ...(reader.saveTiles ? { saveTiles: reader.saveTiles.bind(reader) } : {}),
  };
}
