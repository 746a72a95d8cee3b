import type { IssuanceGuard } from './guards.js';
import { reject } from './rejection.js';

export interface ValidityPeriod {
  /** For the log line, e.g. the certificate's CN. */
  name: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Refuses issuance (systemFailure) while any certificate of the TSA chain is outside its validity
 * period: a token signed then would not verify (ETSI EN 319 421; the Go server keeps issuing).
 * A period that could not be read (an Invalid Date) refuses always.
 */
export function certificateValidityGuard(
  chain: readonly ValidityPeriod[],
  now: () => number = () => Date.now(),
): IssuanceGuard {
  // An Invalid Date compares false both ways, so it would pass as valid forever: refuse instead.
  const unreadable = chain.find(
    ({ notBefore, notAfter }) =>
      Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()),
  );
  if (unreadable) {
    const name = JSON.stringify(unreadable.name);
    return () => reject.systemFailure(`TSA certificate ${name} has an unreadable validity period`);
  }
  const expiresFirst = [...chain].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0];
  const startsLast = [...chain].sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())[0];
  return (at) => {
    // The token's own instant where there is one: genTime then lies within every validity.
    const time = at ?? now();
    if (expiresFirst && time > expiresFirst.notAfter.getTime()) {
      return reject.systemFailure(
        `TSA certificate ${JSON.stringify(expiresFirst.name)} expired at ${expiresFirst.notAfter.toISOString()}`,
      );
    }
    if (startsLast && time < startsLast.notBefore.getTime()) {
      return reject.systemFailure(
        `TSA certificate ${JSON.stringify(startsLast.name)} is not valid before ${startsLast.notBefore.toISOString()}`,
      );
    }
    return undefined;
  };
}
