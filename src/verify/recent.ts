/**
 * What was computed from the bytes seen last: the verifier reads the same certificates, sids and
 * ESSCertIDs again and again in a batch of tokens (an audit of a log), and what it reads from
 * them is a function of their bytes alone, so a kept result is what computing again would give.
 * Bounded: past `size` entries the oldest goes first. A computation that throws keeps nothing.
 */
export class RecentByBytes<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly size: number) {}

  /** The result kept for `bytes` (under `kind`, where one cache holds several), else `compute()`'s. */
  get(bytes: Uint8Array, compute: () => T, kind = ''): T {
    const key = `${kind}:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')}`;
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const value = compute();
    this.entries.set(key, value);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}
