import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { nameToString } from './certificate-view.js';
import { digestByOid, VERIFY_OID } from './oids.js';

/**
 * The human-readable readings of a response's fields: the failure info of a rejection, and the
 * TSA name, signer and signed attributes that `timestamp-cli inspect` shows.
 */

const FAIL_INFO_NAMES: Record<number, string> = {
  0: 'badAlg',
  2: 'badRequest',
  5: 'badDataFormat',
  14: 'timeNotAvailable',
  15: 'unacceptedPolicy',
  16: 'unacceptedExtension',
  17: 'addInfoNotAvailable',
  25: 'systemFailure',
};

const ATTRIBUTE_NAMES: Record<string, string> = {
  [VERIFY_OID.contentType]: 'contentType',
  [VERIFY_OID.messageDigest]: 'messageDigest',
  [VERIFY_OID.signingTime]: 'signingTime',
  [VERIFY_OID.signingCertificate]: 'signingCertificate',
  [VERIFY_OID.signingCertificateV2]: 'signingCertificateV2',
};

/** The name of a signed attribute type, or its OID when it has none here. */
export function attributeName(oid: string): string {
  return ATTRIBUTE_NAMES[oid] ?? oid;
}

/** A short reading of a signed attribute's first value, for inspect. */
export function describeAttribute(attribute: pkijs.Attribute): string {
  const value = attribute.values[0];
  if (value instanceof asn1js.ObjectIdentifier) return value.valueBlock.toString();
  if (value instanceof asn1js.UTCTime || value instanceof asn1js.GeneralizedTime)
    return value.toDate().toISOString();
  if (value instanceof asn1js.OctetString)
    return Buffer.from(value.valueBlock.valueHexView).toString('hex');
  if (
    (attribute.type === VERIFY_OID.signingCertificateV2 ||
      attribute.type === VERIFY_OID.signingCertificate) &&
    value instanceof asn1js.Sequence
  ) {
    const certs = value.valueBlock.value[0];
    const first = certs instanceof asn1js.Sequence ? certs.valueBlock.value[0] : undefined;
    if (first instanceof asn1js.Sequence) {
      const fields = first.valueBlock.value;
      const explicitAlgorithm = fields[0] instanceof asn1js.Sequence;
      const algorithm = explicitAlgorithm
        ? (digestByOid(new pkijs.AlgorithmIdentifier({ schema: fields[0] }).algorithmId) ??
          'unknown')
        : attribute.type === VERIFY_OID.signingCertificateV2
          ? 'sha256'
          : 'sha1';
      const hash = fields[explicitAlgorithm ? 1 : 0];
      if (hash instanceof asn1js.OctetString) {
        return `certificate ${algorithm} ${Buffer.from(hash.valueBlock.valueHexView).toString('hex')}`;
      }
    }
  }
  return attribute.values.map((item) => Buffer.from(item.toBER()).toString('hex')).join(', ');
}

/** The names of the failInfo bits set; `bits` is the BIT STRING's bits (after its unused-bits octet). */
/** The most failInfo bits named; more are `…`. */
const MAX_FAIL_INFO_NAMES = 10;

export function failInfoText(bits: Uint8Array | undefined): string {
  if (!bits) return 'no failure info';
  const bytes = bits;
  const names: string[] = [];
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    if (!((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7)))) continue;
    // A TSA's own set one bit; a hostile one, thousands (a message of megabytes).
    if (names.length === MAX_FAIL_INFO_NAMES) return `${names.join(', ')}, …`;
    names.push(FAIL_INFO_NAMES[bit] ?? `bit ${bit}`);
  }
  return names.join(', ') || 'no failure info';
}

export function generalNameText(name: pkijs.GeneralName): string {
  if (name.value instanceof pkijs.RelativeDistinguishedNames) return nameToString(name.value);
  return typeof name.value === 'string' ? name.value : `GeneralName [${name.type}]`;
}

export function signerIdentifierText(signerInfo: pkijs.SignerInfo): string {
  const sid: unknown = signerInfo.sid;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return `issuer "${nameToString(sid.issuer)}", serial ${sid.serialNumber.toBigInt().toString(16)}`;
  }
  const keyIdentifier = sidKeyIdentifier(signerInfo);
  return keyIdentifier
    ? `subjectKeyIdentifier ${keyIdentifier.toString('hex')}`
    : 'unknown signer identifier';
}

/** The subjectKeyIdentifier of a `[0] SubjectKeyIdentifier` sid, if the sid is one. */
export function sidKeyIdentifier(signerInfo: pkijs.SignerInfo): Buffer | undefined {
  const sid: unknown = signerInfo.sid;
  if (sid instanceof asn1js.Primitive) return Buffer.from(sid.valueBlock.valueHexView);
  return undefined;
}
