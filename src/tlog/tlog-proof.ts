import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { TlogError } from './errors.js';
import { formatHash, parseHash, recordHash, type Hash } from './hash.js';
import type { NoteVerifier } from './note.js';
import { checkRecord } from './proof.js';

/**
 * C2SP tlog-proof@v1: an offline-verifiable proof that an entry is in a log, made of the entry's
 * index, its RFC 6962 inclusion proof (leaf's sibling first) and the signed checkpoint verbatim:
 *
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64>]
 *   index <n>
 *   <base64 hash>…
 *   <blank line>
 *   <signed checkpoint>
 */

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

export interface TlogProof {
  index: number;
  /** opaque, unauthenticated extra data */
  extraData?: Uint8Array;
  hashes: Hash[];
  /** the signed checkpoint note, verbatim */
  checkpoint: string;
}

const bad = (message: string): TlogError => new TlogError('BAD_TLOG_PROOF', message);

export function formatTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw bad('invalid proof index');
  const lines = [TLOG_PROOF_HEADER];
  if (p.extraData !== undefined) lines.push(`extra ${Buffer.from(p.extraData).toString('base64')}`);
  lines.push(`index ${p.index}`, ...p.hashes.map(formatHash));
  return `${lines.join('\n')}\n\n${p.checkpoint}`;
}

export function parseTlogProof(text: string): TlogProof {
  const end = text.indexOf('\n\n');
  if (end < 0) throw bad('malformed tlog-proof: no blank line before the checkpoint');
  const lines = text.slice(0, end).split('\n');
  const checkpoint = text.slice(end + 2);
  if (lines.shift() !== TLOG_PROOF_HEADER) throw bad(`not a ${TLOG_PROOF_HEADER}`);
  const proof: TlogProof = { index: 0, hashes: [], checkpoint };
  if (lines[0]?.startsWith('extra ')) {
    const extra = lines.shift()!.slice('extra '.length);
    const data = Buffer.from(extra, 'base64');
    if (data.toString('base64') !== extra) throw bad('malformed tlog-proof: bad extra data');
    proof.extraData = new Uint8Array(data);
  }
  const indexMatch = /^index (0|[1-9][0-9]*)$/.exec(lines.shift() ?? '');
  if (!indexMatch || !Number.isSafeInteger(Number(indexMatch[1])))
    throw bad('malformed tlog-proof: bad index line');
  proof.index = Number(indexMatch[1]);
  try {
    proof.hashes = lines.map(parseHash);
  } catch (error) {
    throw new TlogError('BAD_TLOG_PROOF', 'malformed tlog-proof: bad hash line', { cause: error });
  }
  if (checkpoint === '') throw bad('malformed tlog-proof: no checkpoint');
  return proof;
}

/**
 * Verifies a tlog-proof for an entry: the checkpoint's signature by the verifier key, its origin
 * (the key name unless given), and the inclusion of the entry at the proof's index. Throws a
 * TlogError (BAD_TLOG_PROOF, BAD_NOTE, BAD_SIGNATURE, UNVERIFIED_NOTE, BAD_CHECKPOINT, BAD_PROOF).
 */
export function verifyTlogProof(
  proofText: string,
  entry: Uint8Array,
  verifier: string | NoteVerifier,
  origin?: string,
): { index: number; checkpoint: Checkpoint } {
  const proof = parseTlogProof(proofText);
  const { checkpoint } = openCheckpoint(proof.checkpoint, verifier, origin);
  if (proof.index >= checkpoint.size)
    throw new TlogError(
      'BAD_PROOF',
      `index ${proof.index} is not in the tree of size ${checkpoint.size}`,
    );
  checkRecord(proof.hashes, checkpoint.size, checkpoint.hash, proof.index, recordHash(entry));
  return { index: proof.index, checkpoint };
}
