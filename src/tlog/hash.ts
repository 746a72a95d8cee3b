import { createHash } from 'node:crypto';
import { TlogError } from './errors.js';

/**
 * RFC 6962 Merkle tree hashing and the "stored hash" numbering of Go's golang.org/x/mod/sumdb/tlog
 * (tlog.go), ported name for name. Numbers are JavaScript numbers (exact up to 2^53), so the bit
 * shifts of the Go code are written as multiplications and divisions: `>>` would cut at 32 bits.
 *
 * Ported from Go, Copyright 2019 The Go Authors, BSD-style licence (see the Go source).
 */

/** A SHA-256 hash: 32 bytes. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

/** The root of the empty tree, RFC 6962 MTH({}) = SHA-256() (Go's TreeHash returns zeros). */
export const EMPTY_TREE_HASH: Hash = new Uint8Array(createHash('sha256').digest());

/** RFC 6962 leaf hash: SHA-256(0x00 || data). */
export function recordHash(data: Uint8Array): Hash {
  return new Uint8Array(createHash('sha256').update(ZERO_PREFIX).update(data).digest());
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  return new Uint8Array(
    createHash('sha256').update(ONE_PREFIX).update(left).update(right).digest(),
  );
}

const ZERO_PREFIX = new Uint8Array([0x00]);
const ONE_PREFIX = new Uint8Array([0x01]);

/** The standard base64 of a hash, as checkpoints and proofs print it. */
export function formatHash(h: Hash): string {
  return Buffer.from(h).toString('base64');
}

/** Parses a standard-base64 SHA-256 hash (Go's ParseHash), canonical encoding only. */
export function parseHash(s: string): Hash {
  const data = Buffer.from(s, 'base64');
  if (data.length !== HASH_SIZE || data.toString('base64') !== s)
    throw new TlogError('BAD_HASH', 'malformed hash');
  return new Uint8Array(data);
}

export function hashEqual(a: Hash, b: Hash): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** 2^k. */
export const pow2 = (k: number): number => 2 ** k;
/** n >> k for non-negative n up to 2^53. */
export const shr = (n: number, k: number): number => Math.floor(n / 2 ** k);

/** The number of trailing zero bits of a positive integer n. */
export function trailingZeros(n: number): number {
  let zeros = 0;
  while (n > 0 && n % 2 === 0) {
    n /= 2;
    zeros++;
  }
  return zeros;
}

/** The largest power of two smaller than n, and its log2 (Go's maxpow2). */
export function maxpow2(n: number): [k: number, l: number] {
  let l = 0;
  while (pow2(l + 1) < n) l++;
  return [pow2(l), l];
}

/**
 * The largest tree whose stored-hash indexes (about twice the tree size) are exact in a JavaScript
 * number: storedHashIndex(0, 2^52) is 2^53 - 1. Past it the tile math silently goes wrong.
 */
export const MAX_TREE_SIZE = 2 ** 52;

/**
 * The index in the sequence of stored hashes of the hash at `level` and offset `n`: record n's
 * leaf hash comes first, followed by the interior hashes that record completes.
 */
export function storedHashIndex(level: number, n: number): number {
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  let i = 0;
  for (; n > 0; n = shr(n, 1)) i += n;
  return i + level;
}

/** The inverse of storedHashIndex: index = storedHashIndex(level, n). */
export function splitStoredHashIndex(index: number): [level: number, n: number] {
  let n = shr(index, 1);
  let indexN = storedHashIndex(0, n);
  if (indexN > index) throw new TlogError('BAD_INPUT', 'bad math in splitStoredHashIndex');
  for (;;) {
    const x = indexN + 1 + trailingZeros(n + 1);
    if (x > index) break;
    n++;
    indexN = x;
  }
  const level = index - indexN;
  return [level, shr(n, level)];
}

/** The number of stored hashes kept for a tree with n records. */
export function storedHashCount(n: number): number {
  if (n === 0) return 0;
  let numHash = storedHashIndex(0, n - 1) + 1;
  for (let i = n - 1; i % 2 === 1; i = shr(i, 1)) numHash++;
  return numHash;
}

/** Reads stored hashes by stored-hash index (Go's HashReader); async so that a database can. */
export interface HashReader {
  readHashes(indexes: readonly number[]): Promise<Hash[]>;
}

/** A HashReader from a function (Go's HashReaderFunc). */
export function hashReaderFunc(f: (indexes: readonly number[]) => Promise<Hash[]>): HashReader {
  return { readHashes: f };
}

/** Reads hashes and checks the reader returned one per index. */
export async function readHashesChecked(
  r: HashReader,
  indexes: readonly number[],
): Promise<Hash[]> {
  const hashes = await r.readHashes(indexes);
  if (hashes.length !== indexes.length)
    throw new TlogError(
      'BAD_READER',
      `tlog: ReadHashes(${indexes.length} indexes) = ${hashes.length} hashes`,
    );
  return hashes;
}

/** The hashes to store when appending record n with the given data (leaf hash first). */
export function storedHashes(n: number, data: Uint8Array, r: HashReader): Promise<Hash[]> {
  return storedHashesForRecordHash(n, recordHash(data), r);
}

/** As storedHashes, given the record's leaf hash. */
export async function storedHashesForRecordHash(
  n: number,
  h: Hash,
  r: HashReader,
): Promise<Hash[]> {
  const hashes = [h];
  const m = trailingZeros(n + 1);
  const indexes = new Array<number>(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedHashIndex(i, shr(n, i) - 1);
  const old = await readHashesChecked(r, indexes);
  for (let i = 0; i < m; i++) {
    h = nodeHash(old[m - 1 - i]!, h);
    hashes.push(h);
  }
  return hashes;
}

/** The root hash of the tree with n records (the empty tree's is EMPTY_TREE_HASH). */
export async function treeHash(n: number, r: HashReader): Promise<Hash> {
  if (n === 0) return EMPTY_TREE_HASH;
  const indexes = subTreeIndex(0, n, []);
  const hashes = await readHashesChecked(r, indexes);
  const [hash, rest] = subTreeHash(0, n, hashes);
  if (rest.length !== 0) throw new TlogError('BAD_INPUT', 'tlog: bad index math in TreeHash');
  return hash;
}

/** Appends to `need` the stored-hash indexes of the complete subtrees that make up [lo, hi). */
export function subTreeIndex(lo: number, hi: number, need: number[]): number[] {
  while (lo < hi) {
    const [k, level] = maxpow2(hi - lo + 1);
    if (lo % k !== 0) throw new TlogError('BAD_INPUT', 'tlog: bad math in subTreeIndex');
    need.push(storedHashIndex(level, shr(lo, level)));
    lo += k;
  }
  return need;
}

/** The hash of [lo, hi) from the hashes subTreeIndex asked for, and the hashes left over. */
export function subTreeHash(lo: number, hi: number, hashes: Hash[]): [Hash, Hash[]] {
  let numTree = 0;
  while (lo < hi) {
    const [k] = maxpow2(hi - lo + 1);
    if (lo % k !== 0 || lo >= hi) throw new TlogError('BAD_INPUT', 'tlog: bad math in subTreeHash');
    numTree++;
    lo += k;
  }
  if (hashes.length < numTree)
    throw new TlogError('BAD_INPUT', 'tlog: bad index math in subTreeHash');
  let h = hashes[numTree - 1]!;
  for (let i = numTree - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return [h, hashes.slice(numTree)];
}

/** A tree: its size and root hash (Go's tlog.Tree). */
export interface Tree {
  n: number;
  hash: Hash;
}
