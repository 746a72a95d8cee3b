import type { X509Certificate } from 'node:crypto';
import type { Certificate } from './certificate.js';
import { privateKeyUsagePeriod } from './private-key-usage-period.js';

/** A certificate's subject on one line (`O=Example, CN=Example TSA`), for messages. */
export const subjectLine = (x509: X509Certificate): string => x509.subject.replace(/\n/g, ', ');

export interface ChainEnd {
  at: number;
  /** What ends, and how to say it will and it did. */
  what: string;
  ends: string;
  ended: string;
}

/**
 * When the first certificate of `chains` expires, or a leaf's private key usage period ends, after
 * which its key signs no more tokens either: what `..._certificate_valid_days_remaining` counts
 * down to, and what the expiry lines say (runtime/certificate-expiry.ts).
 */
export function earliestChainEnd(
  chains: readonly (readonly Certificate[])[],
): ChainEnd | undefined {
  let earliest: ChainEnd | undefined;
  const consider = (end: ChainEnd) => {
    if (Number.isFinite(end.at) && (earliest === undefined || end.at < earliest.at)) {
      earliest = end;
    }
  };
  for (const chain of chains) {
    for (const certificate of chain) {
      const name = subjectLine(certificate.x509);
      consider({
        at: Date.parse(certificate.x509.validTo),
        what: `TSA chain certificate "${name}"`,
        ends: 'expires',
        ended: 'expired',
      });
    }
    const leaf = chain[0];
    const period = leaf && privateKeyUsagePeriod(leaf)?.notAfter;
    if (leaf && period) {
      const name = subjectLine(leaf.x509);
      consider({
        at: period.getTime(),
        what: `the private key usage period of TSA certificate "${name}"`,
        ends: 'ends',
        ended: 'ended',
      });
    }
  }
  return earliest;
}
