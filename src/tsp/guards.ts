import { reject, type TimeStampRejection } from './rejection.js';

/** Refuses issuance while the TSA cannot vouch for its tokens (clock, certificate validity...). */
export type IssuanceGuard = () => TimeStampRejection | undefined;

/**
 * The issuance guard of a signer that knows it would refuse (a remote signer's open circuit
 * breaker, see Signer.unavailableReason): systemFailure (HTTP 500, as a failed signature would
 * give) while it refuses, and so 503 on /readyz and /ping. It opens again when the signer does
 * (the breaker's cool-down ends), so the next request can be the probe.
 */
export function signerAvailabilityGuard(
  unavailableReason: () => string | undefined,
): IssuanceGuard {
  return () => {
    const reason = unavailableReason();
    return reason ? reject.systemFailure(reason) : undefined;
  };
}
