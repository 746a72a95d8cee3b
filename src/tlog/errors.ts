import { CodedError } from '../errors.js';

/** What went wrong in the transparency-log library; callers branch on `code`, never on text. */
export type TlogErrorCode =
  | 'BAD_INPUT' // arguments out of range (Go's "invalid inputs")
  | 'BAD_HASH' // not a base64 SHA-256 hash
  | 'BAD_PROOF' // an inclusion or consistency proof that does not verify
  | 'BAD_READER' // a HashReader or TileReader returned the wrong number or size of results
  | 'BAD_TILE' // a malformed tile path, a tile of the wrong size, an index outside the tree
  | 'TILE_OUT_OF_RANGE' // a well-formed tile path whose index is beyond 2^53: no log has it
  | 'INCONSISTENT_TILE' // downloaded tiles that do not hash to the trusted tree
  | 'TREE_TOO_LARGE' // a tree beyond MAX_TREE_SIZE, whose stored-hash indexes a number cannot hold
  | 'BAD_ENTRY_BUNDLE' // a malformed entries/ bundle
  | 'BAD_KEY' // a malformed, unknown-algorithm or ambiguous signer/verifier key
  | 'BAD_NOTE' // a malformed signed note
  | 'BAD_SIGNATURE' // a signature by a known key that does not verify
  | 'UNVERIFIED_NOTE' // a well-formed note with no signature by a known key
  | 'BAD_CHECKPOINT' // a note text that is not a C2SP checkpoint, or the wrong origin
  | 'BAD_TLOG_PROOF'; // a malformed C2SP tlog-proof

export class TlogError extends CodedError<TlogErrorCode> {
  override name = 'TlogError';
}
