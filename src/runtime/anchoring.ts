import { createAnchoring, type AnchorOptions } from '../ledger/anchor.js';
import type { StoredCheckpoint } from '../ledger/log-store.js';

/**
 * The transparency log's anchoring (ledger/anchor.ts) as one process runs it, stopped before the
 * signer that issues its tokens is disposed: the ledger closes after the signers, and its close
 * waits for a sequencer round that may still offer a checkpoint. Anchored then, the checkpoint's
 * token would be asked of a disposed signer, its commit racing the ledger's close.
 */
export interface ProcessAnchoring {
  /** Offers a checkpoint the sequencer signed (its onCheckpoint); ignored once stopped. */
  offer(checkpoint: StoredCheckpoint): void;
  /** Refuses the checkpoints offered from now on; resolves once the anchor in flight has settled. */
  stop(): Promise<void>;
}

export function stoppableAnchoring(options: AnchorOptions): ProcessAnchoring {
  let stopped = false;
  let inFlight: Promise<unknown> = Promise.resolve();
  const anchor = createAnchoring({
    ...options,
    issue: (request) => {
      const issued = options.issue(request);
      // createAnchoring reports the failure; here it only says when the anchor is done.
      inFlight = issued.catch(() => undefined);
      return issued;
    },
  });
  return {
    offer: (checkpoint) => {
      if (!stopped) anchor(checkpoint);
    },
    stop: async () => {
      stopped = true;
      await inFlight;
    },
  };
}
