import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  formatCheckpoint,
  formatEntryBundle,
  formatTlogProof,
  MemoryHashStorage,
  newEd25519Signer,
  newTiles,
  proveRecord,
  proveTree,
  readTileData,
  signNote,
  tilePath,
  TILE_HEIGHT,
  treeHash,
  verifierKey,
  type NoteSigner,
} from '../../src/tlog/index.js';

/**
 * A transparency log held in memory, made with our library: entries, signed checkpoints, C2SP
 * tiles and entry bundles (by path, as a server would publish them) and tlog-proofs. Tests serve
 * it, hand it to Go's reference code, or tamper with it.
 */
export class TestLog {
  readonly storage = new MemoryHashStorage();
  readonly entries: Uint8Array[] = [];
  /** published tiles and entry bundles by C2SP path ("tile/0/000.p/3", "tile/entries/000") */
  readonly tiles = new Map<string, Uint8Array>();
  readonly signer: NoteSigner;
  readonly vkey: string;
  readonly privateKey: KeyObject;
  /** the latest signed checkpoint and the size it covers */
  signed = '';
  private publishedSize = 0;

  constructor(
    readonly origin = 'tsa.example.com/log',
    privateKey?: KeyObject,
  ) {
    this.privateKey = privateKey ?? generateKeyPairSync('ed25519').privateKey;
    this.signer = newEd25519Signer(origin, this.privateKey);
    this.vkey = verifierKey(origin, this.privateKey);
  }

  get size(): number {
    return this.storage.size;
  }

  async append(...entries: Uint8Array[]): Promise<void> {
    for (const entry of entries) {
      await this.storage.append(entry);
      this.entries.push(entry);
    }
  }

  /** Publishes the tiles of the current size and signs its checkpoint; returns the note. */
  async publish(): Promise<string> {
    for (const tile of newTiles(TILE_HEIGHT, this.publishedSize, this.size)) {
      this.tiles.set(tilePath(tile), await readTileData(tile, this.storage));
      if (tile.l === 0) {
        const start = tile.n * 2 ** TILE_HEIGHT;
        const bundle = formatEntryBundle(this.entries.slice(start, start + tile.w));
        this.tiles.set(tilePath({ ...tile, l: -1 }), bundle);
      }
    }
    this.publishedSize = this.size;
    const hash = await treeHash(this.size, this.storage);
    this.signed = await signNote(
      formatCheckpoint({ origin: this.origin, size: this.size, hash }),
      this.signer,
    );
    return this.signed;
  }

  /** The tlog-proof of entry `index` against the latest published checkpoint. */
  async proof(index: number): Promise<string> {
    return formatTlogProof({
      index,
      hashes: await proveRecord(this.publishedSize, index, this.storage),
      checkpoint: this.signed,
    });
  }

  /** The consistency proof from an older size to the latest published one. */
  consistency(oldSize: number): Promise<Uint8Array[]> {
    return proveTree(this.publishedSize, oldSize, this.storage);
  }
}
