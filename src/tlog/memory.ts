import { storedHashes, type Hash, type HashReader } from './hash.js';
import { TlogError } from './errors.js';

/**
 * A tree held in memory: the stored hashes of its records in order (Go's testHashStorage), two a
 * record. The HashReader of tests and of logs built in memory; to recompute a large tree's tiles
 * from its records (an audit), TileHasher holds its right edge only.
 */
export class MemoryHashStorage implements HashReader {
  readonly hashes: Hash[] = [];
  /** the number of records */
  size = 0;

  /** Appends a record and stores its hashes. */
  async append(data: Uint8Array): Promise<void> {
    this.hashes.push(...(await storedHashes(this.size, data, this)));
    this.size++;
  }

  readHashes(indexes: readonly number[]): Promise<Hash[]> {
    return Promise.resolve(
      indexes.map((index) => {
        const hash = this.hashes[index];
        if (hash === undefined) throw new TlogError('BAD_INPUT', `no stored hash ${index}`);
        return hash;
      }),
    );
  }
}
