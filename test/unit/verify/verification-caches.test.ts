import { beforeAll, describe, expect, it } from 'vitest';
import { viewCertificate, type CertificateView } from '../../../src/verify/certificate-view.js';
import { buildChains, ChainCache, type ChainOptions } from '../../../src/verify/chain.js';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { verifyParsedToken } from '../../../src/verify/verify-timestamp.js';
import { VerificationError } from '../../../src/verify/errors.js';
import { issueToken, makePki, type Pki } from '../../helpers/pki.js';

/**
 * What the verifier keeps between verifications of many tokens (log-audit): certificate views by
 * their DER, and certificate paths by their certificates and the validity of each at the instant.
 * Each must answer what computing again answers.
 */

const DAY = 86_400_000;
const NOW = new Date('2030-06-01T12:00:00Z');
const at = (days: number): Date => new Date(NOW.getTime() + days * DAY);
const artifact = Buffer.from('caches\n');

let pki: Pki;
let other: Pki;
/** A PKI whose intermediate expires before its leaf does. */
let shortIntermediate: Pki;

beforeAll(async () => {
  pki = await makePki({}, NOW);
  other = await makePki({}, NOW);
  shortIntermediate = await makePki({ intermediate: { notAfter: at(10) } }, NOW);
});

describe('certificate views, kept by DER', () => {
  it('gives each caller its own view: changing one changes no later one', () => {
    const first = viewCertificate(pki.leaf.der);
    const subject = Buffer.from(first.subjectDer);
    first.der.fill(0);
    first.subjectDer.fill(0);
    first.notAfter.setTime(0);
    first.keyUsage!.add('keyCertSign');
    first.extendedKeyUsage!.purposes.push('1.2.3');
    first.unhandledCriticalExtensions.push('1.2.3');
    const second = viewCertificate(pki.leaf.der);
    expect(second).not.toBe(first);
    expect(second.der.equals(pki.leaf.der)).toBe(true);
    expect(second.subjectDer.equals(subject)).toBe(true);
    expect(second.notAfter.getTime()).toBeGreaterThan(NOW.getTime());
    expect(second.keyUsage).toEqual(new Set(['digitalSignature']));
    expect(second.extendedKeyUsage!.purposes).toEqual(['1.3.6.1.5.5.7.3.8']);
    expect(second.unhandledCriticalExtensions).toEqual([]);
    expect(viewCertificate(pki.root.der).der.equals(pki.root.der)).toBe(true);
  });

  it('still refuses bytes that are no certificate, each time', () => {
    for (let i = 0; i < 2; i++) expect(() => viewCertificate(Buffer.from('nope'))).toThrow();
  });
});

describe('ChainCache', () => {
  const options = (p: Pki, instant: Date): ChainOptions => ({
    roots: [viewCertificate(p.root.der)],
    intermediates: [viewCertificate(p.intermediate.der)],
    at: instant,
  });
  const summary = ({ chains, timestampingChains, failure }: ReturnType<typeof buildChains>) => ({
    chains: chains.map((chain) => chain.map((c: CertificateView) => c.der.toString('hex'))),
    timestamping: timestampingChains.length,
    failure,
  });

  it('answers what buildChains answers, at each instant, once a path at another instant is kept', () => {
    const cache = new ChainCache();
    const leaf = viewCertificate(pki.leaf.der);
    const kept = cache.build(leaf, options(pki, NOW));
    expect(summary(kept)).toEqual({
      ...summary(buildChains(leaf, options(pki, NOW))),
      failure: undefined,
    });
    expect(kept.chains).toHaveLength(1);
    // The same certificates, at instants where the same are valid: the kept result.
    const reused = cache.build(viewCertificate(pki.leaf.der), options(pki, at(1)));
    expect(summary(reused)).toEqual(summary(kept));
    expect(cache.build(leaf, options(pki, at(2)))).toBe(reused);
    // Where the leaf is not valid yet, or has expired: computed again, the instant named.
    for (const instant of [at(-31), at(366)]) {
      const again = cache.build(leaf, options(pki, instant));
      expect(summary(again)).toEqual(summary(buildChains(leaf, options(pki, instant))));
      expect(again.chains).toHaveLength(0);
      expect(again.failure).toContain(instant.toISOString());
    }
  });

  it('keys on every certificate: another root, another intermediate, one expired', () => {
    const cache = new ChainCache();
    const leaf = viewCertificate(pki.leaf.der);
    expect(cache.build(leaf, options(pki, NOW)).chains).toHaveLength(1);
    expect(cache.build(leaf, options(other, NOW)).chains).toHaveLength(0);
    const crossed = { ...options(pki, NOW), roots: options(other, NOW).roots };
    expect(cache.build(leaf, crossed).chains).toHaveLength(0);

    const shortLeaf = viewCertificate(shortIntermediate.leaf.der);
    expect(cache.build(shortLeaf, options(shortIntermediate, at(1))).chains).toHaveLength(1);
    // The leaf is still valid at day 20, its intermediate is not.
    const late = cache.build(shortLeaf, options(shortIntermediate, at(20)));
    expect(summary(late)).toEqual(
      summary(buildChains(shortLeaf, options(shortIntermediate, at(20)))),
    );
    expect(late.chains).toHaveLength(0);
  });

  it('forgets the oldest beyond its limit', () => {
    const cache = new ChainCache(1);
    const leaf = viewCertificate(pki.leaf.der);
    cache.build(leaf, options(pki, NOW));
    const first = cache.build(leaf, options(pki, NOW));
    expect(cache.build(leaf, options(pki, NOW))).toBe(first);
    cache.build(viewCertificate(other.leaf.der), options(other, NOW));
    expect(cache.build(leaf, options(pki, NOW))).not.toBe(first);
  });

  it('verifyParsedToken with a ChainCache refuses what it refuses without one', async () => {
    const cache = new ChainCache();
    const verify = async (p: Pki, genTime: Date, chains?: ChainCache) => {
      const token = parseTimestampResponse(await issueToken(p, { artifact, genTime }));
      try {
        await verifyParsedToken(
          token,
          artifact,
          { roots: [p.root.der], intermediates: [p.intermediate.der] },
          undefined,
          chains,
        );
        return 'verified';
      } catch (error) {
        expect(error).toBeInstanceOf(VerificationError);
        return (error as Error).message;
      }
    };
    expect(await verify(shortIntermediate, at(1), cache)).toBe('verified');
    const late = await verify(shortIntermediate, at(20), cache);
    expect(late).toMatch(
      /^error while verifying signer certificate chain: x509: certificate has expired/,
    );
    expect(late).toBe(await verify(shortIntermediate, at(20)));
  });
});
