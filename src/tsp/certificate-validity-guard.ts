import type { IssuanceGuard } from './guards.js';
import { reject } from './rejection.js';

export interface ValidityPeriod {
  /** For the log line, e.g. the certificate's CN. */
  name: string;
  notBefore: Date;
  notAfter: Date;
  /**
   * 'privateKeyUsage': the leaf's privateKeyUsagePeriod (the key may sign only within it),
   * else the certificate's validity.
   */
  period?: 'validity' | 'privateKeyUsage';
}

/**
 * Refuses issuance (systemFailure) while any certificate of the TSA chain is outside its validity
 * period: a token signed then would not verify (ETSI EN 319 421; the Go server keeps issuing);
 * and outside the leaf's private key usage period, when the chain's caller adds it.
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
      const { name, notAfter, period } = expiresFirst;
      return reject.systemFailure(
        period === 'privateKeyUsage'
          ? `the private key usage period of TSA certificate ${JSON.stringify(name)} ended at ${notAfter.toISOString()}`
          : `TSA certificate ${JSON.stringify(name)} expired at ${notAfter.toISOString()}`,
      );
    }
    if (startsLast && time < startsLast.notBefore.getTime()) {
      const { name, notBefore, period } = startsLast;
      return reject.systemFailure(
        period === 'privateKeyUsage'
          ? `the private key usage period of TSA certificate ${JSON.stringify(name)} begins at ${notBefore.toISOString()}`
          : `TSA certificate ${JSON.stringify(name)} is not valid before ${notBefore.toISOString()}`,
      );
    }
    return undefined;
  };
}
