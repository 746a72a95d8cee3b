/** The certificate validity guard: systemFailure outside the whole chain's validity, with a clock. */
import { describe, expect, it } from 'vitest';
import { certificateValidityGuard } from '../../../src/tsp/certificate-validity-guard.js';
import { GO_MESSAGES, TimeStampRejection } from '../../../src/tsp/rejection.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { defaultAuthority } from '../../helpers/authority.js';
import { encodeRequest } from '../../helpers/requests.js';

const at = (iso: string) => new Date(iso).getTime();
const chain = [
  {
    name: 'leaf',
    notBefore: new Date('2026-03-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
  },
  {
    name: 'root',
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2030-01-01T00:00:00Z'),
  },
  {
    name: 'intermediate',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-12-01T00:00:00Z'),
  },
];

const refusalAt = (iso: string) => certificateValidityGuard(chain, () => at(iso))();

describe('certificateValidityGuard', () => {
  it('lets issuance through while every certificate is valid, bounds included', () => {
    expect(refusalAt('2026-06-01T00:00:00Z')).toBeUndefined();
    expect(refusalAt('2026-03-01T00:00:00Z')).toBeUndefined();
    expect(refusalAt('2026-12-01T00:00:00Z')).toBeUndefined();
  });

  it('refuses after the first certificate to expire, naming it', () => {
    const refusal = refusalAt('2026-12-01T00:00:01Z');
    expect(refusal).toBeInstanceOf(TimeStampRejection);
    expect(refusal).toMatchObject({
      failInfo: 'systemFailure',
      message: GO_MESSAGES.generic,
      detail: 'TSA certificate "intermediate" expired at 2026-12-01T00:00:00.000Z',
    });
  });

  it('refuses before the last certificate to start, naming it', () => {
    expect(refusalAt('2026-02-28T23:59:59Z')).toMatchObject({
      failInfo: 'systemFailure',
      detail: 'TSA certificate "leaf" is not valid before 2026-03-01T00:00:00.000Z',
    });
  });

  it("refuses outside the leaf's private key usage period, naming it as such", () => {
    const keyUsage = {
      name: 'leaf',
      notBefore: new Date('2026-04-01T00:00:00Z'),
      notAfter: new Date('2026-09-01T00:00:00Z'),
      period: 'privateKeyUsage' as const,
    };
    const guard = (iso: string) => certificateValidityGuard([...chain, keyUsage], () => at(iso))();
    expect(guard('2026-06-01T00:00:00Z')).toBeUndefined();
    expect(guard('2026-09-01T00:00:01Z')).toMatchObject({
      failInfo: 'systemFailure',
      detail:
        'the private key usage period of TSA certificate "leaf" ended at 2026-09-01T00:00:00.000Z',
    });
    expect(guard('2026-03-31T23:59:59Z')).toMatchObject({
      failInfo: 'systemFailure',
      detail:
        'the private key usage period of TSA certificate "leaf" begins at 2026-04-01T00:00:00.000Z',
    });
    // A period that ends with a certificate of the chain: the certificate's expiry is named.
    const sameEnd = { ...keyUsage, notAfter: chain[2]!.notAfter };
    expect(
      certificateValidityGuard([...chain, sameEnd], () => at('2026-12-01T00:00:01Z'))()?.detail,
    ).toBe('TSA certificate "intermediate" expired at 2026-12-01T00:00:00.000Z');
  });

  it('reads the clock at each check, the system clock by default', () => {
    let now = at('2026-06-01T00:00:00Z');
    const guard = certificateValidityGuard(chain, () => now);
    expect(guard()).toBeUndefined();
    now = at('2031-01-01T00:00:00Z');
    expect(guard()?.detail).toContain('"intermediate" expired');
    const expired = [{ name: 'old', notBefore: new Date(0), notAfter: new Date(1000) }];
    expect(certificateValidityGuard(expired)()?.detail).toBe(
      'TSA certificate "old" expired at 1970-01-01T00:00:01.000Z',
    );
    expect(certificateValidityGuard([])()).toBeUndefined();
  });

  it.each([
    ['notAfter', { notBefore: new Date(0), notAfter: new Date('Bad time value') }],
    ['notBefore', { notBefore: new Date('Bad time value'), notAfter: new Date(1000) }],
  ])('refuses always when a %s could not be read, naming the certificate', (_field, period) => {
    const unreadable = [...chain, { name: 'root-nan', ...period }];
    for (const time of ['2026-06-01T00:00:00Z', '1960-01-01T00:00:00Z', '9999-01-01T00:00:00Z']) {
      expect(certificateValidityGuard(unreadable, () => at(time))()).toMatchObject({
        failInfo: 'systemFailure',
        message: GO_MESSAGES.generic,
        detail: 'TSA certificate "root-nan" has an unreadable validity period',
      });
    }
  });
});

describe('the guard in an authority', () => {
  it("checks the token's own instant, not a second read of the clock: genTime never lies past notAfter", async () => {
    const { signer, chain: memoryChain } = await createMemorySigner('sha256');
    const certificates = memoryChain.map(parseCertificate);
    const notAfter = new Date(certificates[0]!.x509.validTo).getTime();
    const validity = [{ name: 'leaf', notBefore: new Date(0), notAfter: new Date(notAfter) }];
    // The guard's own clock a millisecond earlier than the authority's, as two reads can be.
    const tsa = (now: number) =>
      defaultAuthority(signer, certificates, {
        guards: [certificateValidityGuard(validity, () => now - 1)],
        now: () => now,
        verifySignatures: false,
      });
    expect(await tsa(notAfter).issue(encodeRequest(), 'der')).toMatchObject({
      status: 'granted',
      genTime: new Date(notAfter),
    });
    expect(await tsa(notAfter + 1).issue(encodeRequest(), 'der')).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
    });
    await signer[Symbol.asyncDispose]();
  });
});
