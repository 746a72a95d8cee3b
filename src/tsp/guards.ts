import type { Signer } from '../crypto/signer.js';
import { reject, type TimeStampRejection } from './rejection.js';

/** Why issuance is refused right now: a failInfo, the Go server's message and a detail. */
export type Refusal = TimeStampRejection;

/**
 * Refuses issuance while the TSA cannot vouch for its tokens (clock, certificate validity...).
 * Plain values given to the authority when it is built, checked in order before each token, with
 * the time (ms) the token's genTime is taken from; without it (readiness), their own clock's.
 */
export type IssuanceGuard = (now?: number) => Refusal | undefined;

/**
 * The issuance guard of a signer that knows it would refuse (a remote signer's or an HSM's open
 * circuit breaker, see Signer.unavailableReason): systemFailure flagged temporary (the breaker
 * closes by itself: clients are told to retry) while it refuses, which also turns the server's
 * readiness red. It opens again when the signer does (the breaker's cool-down ends), so the next
 * request can be the probe. `clientDetail` is what the client is told where the reason names what
 * only operators may read (a PIN file's path, a key's labels: see readinessReason).
 */
export function signerAvailabilityGuard(
  unavailableReason: () => string | undefined,
  isTemporary: () => boolean = () => true,
  unavailableForMs: () => number | undefined = () => undefined,
  clientDetail: () => string | undefined = () => undefined,
): IssuanceGuard {
  return () => {
    const reason = unavailableReason();
    if (!reason) return undefined;
    const detail = clientDetail();
    // One that needs a restart or an officer (a locked PIN) is a fault: no retry would mend it.
    return isTemporary()
      ? reject.unavailable(detail ?? reason, unavailableForMs(), detail && reason)
      : reject.systemFailure(detail ?? reason, detail && reason);
  };
}

/**
 * What /readyz says of a refusal: the signer's whole reason where the client was told a fixed
 * text, else the refusal's detail (or message).
 */
export function readinessReason(refusal: Refusal): string {
  return refusal.operatorDetail ?? refusal.detail ?? refusal.message;
}

/** {@link signerAvailabilityGuard} for `signer`; undefined for one that never refuses up front. */
export function signerGuard(signer: Signer): IssuanceGuard | undefined {
  const { unavailableReason, unavailableIsTemporary, unavailableForMs, unavailableDetail } = signer;
  if (!unavailableReason) return undefined;
  return signerAvailabilityGuard(
    () => unavailableReason.call(signer),
    () => unavailableIsTemporary?.call(signer) ?? true,
    () => unavailableForMs?.call(signer),
    () => unavailableDetail?.call(signer),
  );
}
