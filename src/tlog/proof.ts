import { TlogError } from './errors.js';
import {
  hashEqual,
  maxpow2,
  nodeHash,
  readHashesChecked,
  subTreeHash,
  subTreeIndex,
  type Hash,
  type HashReader,
} from './hash.js';

/**
 * RFC 6962 inclusion ("record") and consistency ("tree") proofs, ported from Go's
 * golang.org/x/mod/sumdb/tlog (tlog.go). A record proof lists hashes from the leaf's sibling up to
 * the root's child, the order of RFC 6962 section 2.1.1 and of C2SP tlog-proof.
 *
 * Ported from Go, Copyright 2019 The Go Authors, BSD-style licence (see the Go source).
 */

const proofFailed = (): TlogError => new TlogError('BAD_PROOF', 'invalid transparency proof');

/** The proof that record n is in the tree of size t. */
export async function proveRecord(t: number, n: number, r: HashReader): Promise<Hash[]> {
  if (!validInt(t) || !validInt(n) || n >= t)
    throw new TlogError('BAD_INPUT', 'tlog: invalid inputs in ProveRecord');
  const indexes = leafProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const hashes = await readHashesChecked(r, indexes);
  const [p, rest] = leafProof(0, t, n, hashes);
  if (rest.length !== 0) throw new TlogError('BAD_INPUT', 'tlog: bad index math in ProveRecord');
  return p;
}

function leafProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (lo + 1 === hi) return need;
  const [k] = maxpow2(hi - lo);
  if (n < lo + k) {
    leafProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    leafProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function leafProof(lo: number, hi: number, n: number, hashes: Hash[]): [Hash[], Hash[]] {
  if (lo + 1 === hi) return [[], hashes];
  let p: Hash[];
  let th: Hash;
  const [k] = maxpow2(hi - lo);
  if (n < lo + k) {
    [p, hashes] = leafProof(lo, lo + k, n, hashes);
    [th, hashes] = subTreeHash(lo + k, hi, hashes);
  } else {
    [th, hashes] = subTreeHash(lo, lo + k, hashes);
    [p, hashes] = leafProof(lo + k, hi, n, hashes);
  }
  return [[...p, th], hashes];
}

/** Checks that p proves that record n with leaf hash h is in the tree of size t with root th. */
export function checkRecord(p: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  if (!validInt(t) || !validInt(n) || n >= t)
    throw new TlogError('BAD_INPUT', 'tlog: invalid inputs in CheckRecord');
  if (!hashEqual(runRecordProof(p, 0, t, n, h), th)) throw proofFailed();
}

function runRecordProof(p: readonly Hash[], lo: number, hi: number, n: number, leaf: Hash): Hash {
  if (lo + 1 === hi) {
    if (p.length !== 0) throw proofFailed();
    return leaf;
  }
  if (p.length === 0) throw proofFailed();
  const [k] = maxpow2(hi - lo);
  const last = p[p.length - 1]!;
  const rest = p.slice(0, -1);
  return n < lo + k
    ? nodeHash(runRecordProof(rest, lo, lo + k, n, leaf), last)
    : nodeHash(last, runRecordProof(rest, lo + k, hi, n, leaf));
}

/** The proof that the tree of size t contains the tree of size n as a prefix. */
export async function proveTree(t: number, n: number, r: HashReader): Promise<Hash[]> {
  if (!validInt(t) || !validInt(n) || t < 1 || n < 1 || n > t)
    throw new TlogError('BAD_INPUT', 'tlog: invalid inputs in ProveTree');
  const indexes = treeProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const hashes = await readHashesChecked(r, indexes);
  const [p, rest] = treeProof(0, t, n, hashes);
  if (rest.length !== 0) throw new TlogError('BAD_INPUT', 'tlog: bad index math in ProveTree');
  return p;
}

function treeProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (n === hi) return lo === 0 ? need : subTreeIndex(lo, hi, need);
  const [k] = maxpow2(hi - lo);
  if (n <= lo + k) {
    treeProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    treeProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function treeProof(lo: number, hi: number, n: number, hashes: Hash[]): [Hash[], Hash[]] {
  if (n === hi) {
    if (lo === 0) return [[], hashes];
    const [th, rest] = subTreeHash(lo, hi, hashes);
    return [[th], rest];
  }
  let p: Hash[];
  let th: Hash;
  const [k] = maxpow2(hi - lo);
  if (n <= lo + k) {
    [p, hashes] = treeProof(lo, lo + k, n, hashes);
    [th, hashes] = subTreeHash(lo + k, hi, hashes);
  } else {
    [th, hashes] = subTreeHash(lo, lo + k, hashes);
    [p, hashes] = treeProof(lo + k, hi, n, hashes);
  }
  return [[...p, th], hashes];
}

/** Checks that p proves the tree of size t with root th extends the tree of size n with root h. */
export function checkTree(p: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  if (!validInt(t) || !validInt(n) || t < 1 || n < 1 || n > t)
    throw new TlogError('BAD_INPUT', 'tlog: invalid inputs in CheckTree');
  const [h2, th2] = runTreeProof(p, 0, t, n, h);
  if (!hashEqual(th2, th) || !hashEqual(h2, h)) throw proofFailed();
}

function runTreeProof(
  p: readonly Hash[],
  lo: number,
  hi: number,
  n: number,
  old: Hash,
): [Hash, Hash] {
  if (n === hi) {
    if (lo === 0) {
      if (p.length !== 0) throw proofFailed();
      return [old, old];
    }
    if (p.length !== 1) throw proofFailed();
    return [p[0]!, p[0]!];
  }
  if (p.length === 0) throw proofFailed();
  const [k] = maxpow2(hi - lo);
  const last = p[p.length - 1]!;
  const rest = p.slice(0, -1);
  if (n <= lo + k) {
    const [oh, th] = runTreeProof(rest, lo, lo + k, n, old);
    return [oh, nodeHash(th, last)];
  }
  const [oh, th] = runTreeProof(rest, lo + k, hi, n, old);
  return [nodeHash(last, oh), nodeHash(last, th)];
}

const validInt = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;
