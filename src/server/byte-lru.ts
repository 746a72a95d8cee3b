/**
 * Byte strings by key, at most `maxBytes` of them in all: the least recently used go first to make
 * room, and one larger than the whole bound is not kept. Keys are not counted: callers keep few
 * and short ones (tile paths).
 */
export class ByteLru {
  // A Map iterates in insertion order: re-inserted on each use, its first key is the least recent.
  private readonly entries = new Map<string, Uint8Array>();
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** The bytes held now, all entries together. */
  get bytes(): number {
    return this.held;
  }

  get(key: string): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: Uint8Array): void {
    this.delete(key);
    if (value.byteLength > this.maxBytes) return;
    while (this.held + value.byteLength > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, value);
    this.held += value.byteLength;
  }

  private delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.held -= value.byteLength;
  }
}
