import { reject } from '../tsp/rejection.js';
import type { TimeStampRejection } from '../tsp/rejection.js';

/**
 * Signatures that may wait at once for a free slot (a remote signer's call in flight, a PKCS#11
 * session), per signer; the next is refused at once. A client on a keep-alive connection waits for
 * its answer before it asks again, so waiters rarely outnumber the connections a process serves
 * (hundreds). A flood that does (pipelined or HTTP/2 requests, open-loop load against a service
 * slowed down but still answering, which keeps the breaker closed) would otherwise pile up for the
 * signer's whole deadline (up to 5 min), each holding its request. 1024 are a second or two of a
 * healthy service's signatures, and a few MB of requests.
 */
export const MAX_WAITING_SIGNATURES = 1024;

/** When to retry a signature refused behind a full wait queue: a few round trips empty it. */
export const QUEUE_FULL_RETRY_MS = 1_000;

/**
 * The refusal of a signature behind a full wait queue: a local overload, not the service's fault,
 * so temporary (503 + Retry-After) and never held against the service by its breaker. `detail`
 * is sent to the client: it names no key.
 */
export function queueFull(detail: string): TimeStampRejection {
  return reject.unavailable(detail, QUEUE_FULL_RETRY_MS);
}
