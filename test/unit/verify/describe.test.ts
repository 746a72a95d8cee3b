import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import {
  attributeName,
  describeAttribute,
  failInfoText,
  generalNameText,
  signerIdentifierText,
  sidKeyIdentifier,
} from '../../../src/verify/describe.js';
import { VERIFY_OID } from '../../../src/verify/oids.js';

const attribute = (type: string, value: asn1js.AsnType) =>
  new pkijs.Attribute({ type, values: [value] });
const octets = (hex: string) => new asn1js.OctetString({ valueHex: Buffer.from(hex, 'hex') });
/** A failInfo BIT STRING's bits, after its unused-bits octet. */
const bits = (bytes: number[]) => Uint8Array.from(bytes);
const cn = (value: string) =>
  new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({
        type: '2.5.4.3',
        value: new asn1js.Utf8String({ value }),
      }),
    ],
  });

describe('failInfoText', () => {
  it('names every bit set, RFC 3161 names first and unknown bits by number', () => {
    // bit 2 (badRequest), bit 7 (unnamed), bit 25 (systemFailure)
    expect(failInfoText(bits([0x21, 0x00, 0x00, 0x40]))).toBe('badRequest, bit 7, systemFailure');
    expect(failInfoText(bits([0x00, 0x02]))).toBe('timeNotAvailable');
  });

  it('says so when there is no failure info', () => {
    expect(failInfoText(undefined)).toBe('no failure info');
    expect(failInfoText(bits([0x00]))).toBe('no failure info');
  });
});

describe('attributeName', () => {
  it('names the CMS attributes a token carries, and keeps the OID of others', () => {
    expect(attributeName(VERIFY_OID.signingCertificateV2)).toBe('signingCertificateV2');
    expect(attributeName(VERIFY_OID.messageDigest)).toBe('messageDigest');
    expect(attributeName('1.2.3.4')).toBe('1.2.3.4');
  });
});

describe('describeAttribute', () => {
  it('reads an OID, a time and an OCTET STRING', () => {
    expect(
      describeAttribute(
        attribute(
          VERIFY_OID.contentType,
          new asn1js.ObjectIdentifier({ value: VERIFY_OID.tstInfo }),
        ),
      ),
    ).toBe(VERIFY_OID.tstInfo);
    const when = new Date('2026-01-02T03:04:05Z');
    expect(
      describeAttribute(attribute(VERIFY_OID.signingTime, new asn1js.UTCTime({ valueDate: when }))),
    ).toBe('2026-01-02T03:04:05.000Z');
    expect(describeAttribute(attribute(VERIFY_OID.messageDigest, octets('c0ffee')))).toBe('c0ffee');
  });

  it('reads the first certificate hash of a signingCertificateV2, SHA-256 when the algorithm is absent', () => {
    const essCertId = (...fields: asn1js.AsnType[]) =>
      new asn1js.Sequence({
        value: [new asn1js.Sequence({ value: [new asn1js.Sequence({ value: fields })] })],
      });
    expect(
      describeAttribute(attribute(VERIFY_OID.signingCertificateV2, essCertId(octets('abcd')))),
    ).toBe('certificate sha256 abcd');
    const sha384 = new pkijs.AlgorithmIdentifier({ algorithmId: VERIFY_OID.sha384 }).toSchema();
    expect(
      describeAttribute(
        attribute(VERIFY_OID.signingCertificateV2, essCertId(sha384, octets('ef01'))),
      ),
    ).toBe('certificate sha384 ef01');
    // ESSCertID (RFC 2634) has no algorithm: always SHA-1.
    expect(
      describeAttribute(attribute(VERIFY_OID.signingCertificate, essCertId(octets('1234')))),
    ).toBe('certificate sha1 1234');
  });

  it('shows any other value as its DER in hex', () => {
    expect(describeAttribute(attribute('1.2.3.4', new asn1js.Integer({ value: 5 })))).toBe(
      '020105',
    );
  });
});

describe('generalNameText', () => {
  it('writes a directoryName as a distinguished name and a string name as it is', () => {
    expect(generalNameText(new pkijs.GeneralName({ type: 4, value: cn('Test TSA') }))).toBe(
      'CN=Test TSA',
    );
    expect(generalNameText(new pkijs.GeneralName({ type: 1, value: 'tsa@example.com' }))).toBe(
      'tsa@example.com',
    );
  });
});

describe('signerIdentifierText', () => {
  it('writes an issuer and serial sid with the serial in hex', () => {
    const sid = new pkijs.IssuerAndSerialNumber({
      issuer: cn('Test CA'),
      serialNumber: new asn1js.Integer({ value: 255 }),
    });
    expect(signerIdentifierText(new pkijs.SignerInfo({ sid }))).toBe(
      'issuer "CN=Test CA", serial ff',
    );
  });

  it('writes a subjectKeyIdentifier sid, which sidKeyIdentifier returns', () => {
    const sid = new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 0 },
      valueHex: Buffer.from('0a0b0c', 'hex'),
    });
    const signerInfo = new pkijs.SignerInfo({ sid });
    expect(signerIdentifierText(signerInfo)).toBe('subjectKeyIdentifier 0a0b0c');
    expect(sidKeyIdentifier(signerInfo)?.toString('hex')).toBe('0a0b0c');
  });
});
