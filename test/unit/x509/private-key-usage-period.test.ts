import { describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import { parseCertificate, type Certificate } from '../../../src/x509/certificate.js';
import { createCertificate, KeyUsage } from '../../../src/x509/certificate-builder.js';
import { privateKeyUsagePeriod } from '../../../src/x509/private-key-usage-period.js';
import { X509Error } from '../../../src/x509/x509-error.js';
import { newSigner } from '../../helpers/pki.js';

/** A certificate whose extensions are `value` as its privateKeyUsagePeriod (the reader's input). */
const withPeriod = (hex: string): Certificate =>
  ({
    extensions: [
      { oid: OID.basicConstraints, critical: true, value: Buffer.from('3000', 'hex') },
      { oid: OID.privateKeyUsagePeriod, critical: false, value: Buffer.from(hex, 'hex') },
    ],
  }) as unknown as Certificate;
const time = (tag: string, text: string) =>
  `${tag}${text.length.toString(16).padStart(2, '0')}${Buffer.from(text, 'latin1').toString('hex')}`;
const sequence = (...fields: string[]) => {
  const content = fields.join('');
  return `30${(content.length / 2).toString(16).padStart(2, '0')}${content}`;
};

describe('privateKeyUsagePeriod (X.509 section 9.2.2.5)', () => {
  it('is undefined without the extension', () => {
    expect(privateKeyUsagePeriod({ extensions: [] } as unknown as Certificate)).toBeUndefined();
  });

  it('reads either bound, or both', () => {
    const from = time('80', '20260102030405Z');
    const until = time('81', '20270708091011Z');
    expect(privateKeyUsagePeriod(withPeriod(sequence(from, until)))).toEqual({
      notBefore: new Date('2026-01-02T03:04:05Z'),
      notAfter: new Date('2027-07-08T09:10:11Z'),
    });
    expect(privateKeyUsagePeriod(withPeriod(sequence(until)))).toEqual({
      notAfter: new Date('2027-07-08T09:10:11Z'),
    });
    expect(privateKeyUsagePeriod(withPeriod(sequence(from)))).toEqual({
      notBefore: new Date('2026-01-02T03:04:05Z'),
    });
  });

  it.each([
    {
      what: 'a UTCTime text',
      hex: sequence(time('81', '270708091011Z')),
      reason: /notAfter "270708091011Z" is not a GeneralizedTime/,
    },
    {
      what: 'a fraction of a second',
      hex: sequence(time('81', '20270708091011.5Z')),
      reason: /is not a GeneralizedTime YYYYMMDDHHMMSSZ/,
    },
    {
      what: 'a local time',
      hex: sequence(time('80', '20270708091011')),
      reason: /notBefore "20270708091011" is not/,
    },
    {
      what: 'February 30',
      hex: sequence(time('81', '20270230000000Z')),
      reason: /"20270230000000Z" is not a GeneralizedTime/,
    },
    {
      what: 'hour 24',
      hex: sequence(time('81', '20270101240000Z')),
      reason: /"20270101240000Z" is not/,
    },
    {
      what: 'the bounds in the wrong order',
      hex: sequence(time('81', '20270101000000Z'), time('80', '20260101000000Z')),
      reason: /not a PrivateKeyUsagePeriod: unexpected trailing element/,
    },
    {
      what: 'a bound explicitly tagged',
      hex: sequence(`a011${time('18', '20270101000000Z')}`),
      reason: /not a PrivateKeyUsagePeriod/,
    },
    {
      what: 'not a SEQUENCE',
      hex: time('81', '20270101000000Z'),
      reason: /not a PrivateKeyUsagePeriod: expected tag 0x30/,
    },
    {
      what: 'trailing bytes',
      hex: `${sequence()}00`,
      reason: /not a PrivateKeyUsagePeriod: trailing bytes/,
    },
    {
      what: 'neither bound (RFC 3280 section 4.2.1.4: at least one)',
      hex: sequence(),
      reason: /^it has neither notBefore nor notAfter$/,
    },
    {
      what: 'an end before the start',
      hex: sequence(time('80', '20270101000000Z'), time('81', '20260101000000Z')),
      reason:
        /^it ends \(2026-01-01T00:00:00.000Z\) before it begins \(2027-01-01T00:00:00.000Z\)$/,
    },
  ])('refuses $what', ({ hex, reason }) => {
    let thrown: unknown;
    try {
      privateKeyUsagePeriod(withPeriod(hex));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(X509Error);
    expect(thrown).toMatchObject({
      code: 'INVALID_EXTENSION',
      message: expect.stringMatching(reason),
    });
  });
});

describe("the certificate builder's privateKeyUsagePeriod", () => {
  const template = (privateKeyUsagePeriod: { notBefore?: Date; notAfter?: Date }) => {
    const signer = newSigner('period');
    return {
      signer,
      template: {
        subject: { commonName: 'Period TSA' },
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2027-01-01T00:00:00Z'),
        publicKey: signer.publicKey,
        keyUsage: [KeyUsage.digitalSignature],
        privateKeyUsagePeriod,
      },
    };
  };

  it.each([
    { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-04-01T12:00:00Z') },
    { notAfter: new Date('2026-04-01T12:00:00Z') },
    { notBefore: new Date('2026-02-01T00:00:00Z') },
  ])('writes, non-critical, what the reader reads: %o', async (period) => {
    const { signer, template: made } = template(period);
    const certificate = parseCertificate(await createCertificate(made, 'self-signed', signer));
    expect(privateKeyUsagePeriod(certificate)).toEqual(period);
    const extension = certificate.extensions.find(({ oid }) => oid === OID.privateKeyUsagePeriod);
    expect(extension?.critical).toBe(false);
  });

  it('refuses to write one with neither bound (RFC 3280 section 4.2.1.4)', async () => {
    const { signer, template: made } = template({});
    await expect(createCertificate(made, 'self-signed', signer)).rejects.toThrow(
      'a private key usage period needs a notBefore, a notAfter or both',
    );
  });
});
