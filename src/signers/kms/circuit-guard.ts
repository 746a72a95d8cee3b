import type { IssuanceGuard } from '../../tsp/authority.js';
import { reject } from '../../tsp/rejection.js';
import type { CircuitBreaker } from './circuit-breaker.js';

/**
 * The issuance guard of the remote signer's circuit breaker: systemFailure (HTTP 500, as a failed
 * signature would give) while the circuit refuses calls, and so 503 on /readyz and /ping. It opens
 * again when the cool-down ends, so the next request can be the probe.
 */
export function createCircuitGuard(breaker: CircuitBreaker): IssuanceGuard {
  return () => {
    const refusal = breaker.refusal();
    return refusal ? reject.systemFailure(refusal) : undefined;
  };
}
