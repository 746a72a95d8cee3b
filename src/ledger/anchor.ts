import { createHash, randomBytes } from 'node:crypto';
import { HASHES } from '../asn1/algorithms.js';
import { boolean, integer, octetString, sequence, unsignedInteger } from '../asn1/der.js';
import type { StoredCheckpoint } from './log-store.js';

/**
 * The TimeStampReq that anchors a checkpoint: SHA-256 of its signed note, a random nonce, certReq.
 * The token it gets is logged like any other, and its genTime bounds the checkpoint's age. Only
 * the first checkpoint after --ledger-anchor-interval has passed is anchored: one signed inside
 * the interval is anchored only through a later checkpoint that is (which contains it), and not
 * at all if none comes.
 */
export function anchorRequest(checkpoint: StoredCheckpoint): Buffer {
  const digest = createHash('sha256').update(checkpoint.note).digest();
  const nonce = randomBytes(16);
  nonce[0] = (nonce[0] as number) & 0x7f;
  return sequence(
    integer(1),
    sequence(HASHES.sha256.identifierWithNull, octetString(digest)),
    unsignedInteger(nonce),
    boolean(true),
  );
}

export interface AnchorOptions {
  intervalMs: number;
  /**
   * Issues and logs a token for the request; resolves with the log index of its entry, or
   * undefined when it was refused.
   */
  issue: (request: Buffer) => Promise<number | undefined>;
  warn: (fields: object, message: string) => void;
  now?: () => number;
}

/**
 * Offered each checkpoint the sequencer signs: timestamps one when --ledger-anchor-interval has
 * passed since the last anchor (and none is in flight). The anchor's token becomes an entry of the
 * next checkpoint, which is not anchored again before the interval passes, nor at all when that
 * token is all it adds to the last anchored checkpoint: anchoring it would log another token, and
 * an idle log would grow by one anchor an interval for ever.
 */
export function createAnchoring(options: AnchorOptions): (checkpoint: StoredCheckpoint) => void {
  const now = options.now ?? Date.now;
  let last: number | undefined;
  /** The last checkpoint anchored, and where its anchor's token went in the log. */
  let anchored: { size: number; tokenIndex: number } | undefined;
  let inFlight = false;
  return (checkpoint) => {
    if (options.intervalMs <= 0 || inFlight) return;
    if (last !== undefined && now() - last < options.intervalMs) return;
    if (anchored && anchored.tokenIndex === anchored.size && checkpoint.size === anchored.size + 1)
      return;
    inFlight = true;
    options
      .issue(anchorRequest(checkpoint))
      .then((tokenIndex) => {
        if (tokenIndex === undefined) {
          options.warn({ size: checkpoint.size }, 'cannot anchor the checkpoint: refused');
          return;
        }
        last = now();
        anchored = { size: checkpoint.size, tokenIndex };
      })
      .catch((error: unknown) =>
        options.warn({ err: error, size: checkpoint.size }, 'cannot anchor the checkpoint'),
      )
      .finally(() => {
        inFlight = false;
      });
  };
}
