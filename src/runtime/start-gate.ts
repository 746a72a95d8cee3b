import { untilAborted } from '../deadline.js';
import { startStoppedBySignal } from './runtime-error.js';

/**
 * How a stop (SIGTERM, SIGINT, a cluster worker's drain) treats a start-up: it abandons it only
 * until the first listener is about to accept. Before, nothing is served, so the caller may exit at
 * once, without waiting for a KMS, HSM or database still connecting. From then on connections may
 * be accepted: the start-up completes, and its caller drains it (never an exit that cuts them).
 */
export interface StartGate {
  /** Right before the first listen: throws START_STOPPED if stopped already; a stop now waits. */
  listening(): void;
  /** `start`, or a rejection with START_STOPPED at once when a stop comes before listening(). */
  untilListening<T>(start: Promise<T>): Promise<T>;
}

export function startGate(stop: AbortSignal | undefined): StartGate {
  const abandon = new AbortController();
  const onStop = () => abandon.abort(startStoppedBySignal());
  if (stop?.aborted) onStop();
  else stop?.addEventListener('abort', onStop, { once: true });
  return {
    listening() {
      abandon.signal.throwIfAborted();
      stop?.removeEventListener('abort', onStop);
    },
    untilListening: (start) => untilAborted(start, abandon.signal),
  };
}
