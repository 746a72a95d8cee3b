import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import {
  bitString,
  boolean,
  contextTag,
  generalizedTime,
  integer,
  namedBitString,
  octetString,
  oid,
  readExactly,
  DerSequenceReader,
  sequence,
  Tag,
  time,
  tlv,
  unsignedInteger,
} from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import type { Signer } from '../crypto/signer.js';
import { encodeName, type NameAttributes } from './name.js';
import type { PrivateKeyUsagePeriod } from './private-key-usage-period.js';
import { X509Error } from './x509-error.js';

/** RFC 5280 KeyUsage bit numbers. */
export const KeyUsage = {
  digitalSignature: 0,
  contentCommitment: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export interface CertificateTemplate {
  subject: NameAttributes;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** Present for CA certificates (critical, CA:TRUE); absent for end-entity leaves (as Go). */
  basicConstraints?: { pathLenConstraint?: number };
  keyUsage: readonly number[];
  extendedKeyUsage?: { purposes: readonly string[]; critical: boolean };
  /**
   * When the key may sign (X.509 section 9.2.2.5, RFC 3280 section 4.2.1.4), a TSA leaf's: written
   * non-critical with the bounds given, at least one.
   */
  privateKeyUsagePeriod?: PrivateKeyUsagePeriod;
  /** Unsigned big-endian serial; a random positive serial below 2^159 when absent. */
  serialNumber?: Uint8Array;
}

export interface CertificateIssuer {
  /** DER Name of the issuer (its subject). */
  name: Uint8Array;
  signer: Signer;
  /** The issuer's subjectKeyIdentifier, copied into authorityKeyIdentifier. */
  subjectKeyIdentifier: Uint8Array;
}

/** RFC 5280 section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
export function subjectKeyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const reader = new DerSequenceReader(readExactly(spki, Tag.SEQUENCE).value);
  reader.next(Tag.SEQUENCE);
  const subjectPublicKey = reader.next(Tag.BIT_STRING).value.subarray(1);
  return createHash('sha1').update(subjectPublicKey).digest();
}

/** A random positive serial number below 2^159 (as Go's cryptoutils.GenerateSerialNumber). */
export function randomSerialNumber(): Buffer {
  const serial = randomBytes(20);
  serial[0] = (serial[0] as number) & 0x7f;
  return serial;
}

function extension(extensionOid: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? sequence(oid(extensionOid), boolean(true), octetString(value))
    : sequence(oid(extensionOid), octetString(value));
}

/**
 * Builds and signs an X.509 v3 certificate. The issuer signs through the Signer interface, so a
 * KMS key can sign certificates exactly as it signs tokens. A self-signed certificate passes an
 * issuer whose name is the template's subject and whose signer holds the template's key.
 */
export async function createCertificate(
  template: CertificateTemplate,
  issuer: CertificateIssuer | 'self-signed',
  selfSigner?: Signer,
): Promise<Buffer> {
  const subjectName = encodeName(template.subject);
  const ownKeyId = subjectKeyIdentifier(template.publicKey);
  const resolved: CertificateIssuer =
    issuer === 'self-signed'
      ? { name: subjectName, signer: mustHave(selfSigner), subjectKeyIdentifier: ownKeyId }
      : issuer;

  const extensions: Buffer[] = [];
  if (template.basicConstraints) {
    const pathLen = template.basicConstraints.pathLenConstraint;
    const value =
      pathLen === undefined ? sequence(boolean(true)) : sequence(boolean(true), integer(pathLen));
    extensions.push(extension(OID.basicConstraints, true, value));
  }
  extensions.push(extension(OID.keyUsage, true, namedBitString(template.keyUsage)));
  if (template.extendedKeyUsage) {
    const purposes = template.extendedKeyUsage.purposes.map((purpose) => oid(purpose));
    extensions.push(
      extension(OID.extKeyUsage, template.extendedKeyUsage.critical, sequence(...purposes)),
    );
  }
  if (template.privateKeyUsagePeriod) {
    extensions.push(
      extension(
        OID.privateKeyUsagePeriod,
        false,
        privateKeyUsagePeriodValue(template.privateKeyUsagePeriod),
      ),
    );
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(ownKeyId)));
  extensions.push(
    extension(
      OID.authorityKeyIdentifier,
      false,
      sequence(tlv(contextTag(0, false), resolved.subjectKeyIdentifier)),
    ),
  );

  const signatureAlgorithm = resolved.signer.algorithm.identifier;
  const tbsCertificate = sequence(
    tlv(contextTag(0, true), integer(2)),
    unsignedInteger(template.serialNumber ?? randomSerialNumber()),
    signatureAlgorithm,
    Buffer.from(resolved.name),
    sequence(time(template.notBefore), time(template.notAfter)),
    subjectName,
    template.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(contextTag(3, true), sequence(...extensions)),
  );
  const signature = await resolved.signer.sign(tbsCertificate);
  return sequence(tbsCertificate, signatureAlgorithm, bitString(signature));
}

/**
 * PrivateKeyUsagePeriod ::= SEQUENCE { notBefore [0] GeneralizedTime OPTIONAL, notAfter [1]
 * GeneralizedTime OPTIONAL }, implicitly tagged, in whole seconds (RFC 5280 section 4.1.2.5.2).
 */
export function privateKeyUsagePeriodValue({ notBefore, notAfter }: PrivateKeyUsagePeriod): Buffer {
  // RFC 3280: CAs "MUST NOT generate" the extension "unless at least one of the two components is present".
  if (!notBefore && !notAfter)
    throw new X509Error(
      'INVALID_EXTENSION',
      'a private key usage period needs a notBefore, a notAfter or both',
    );
  const bound = (tag: number, date: Date) =>
    tlv(contextTag(tag, false), readExactly(generalizedTime(date), Tag.GENERALIZED_TIME).value);
  return sequence(
    ...(notBefore ? [bound(0, notBefore)] : []),
    ...(notAfter ? [bound(1, notAfter)] : []),
  );
}

function mustHave(signer: Signer | undefined): Signer {
  if (!signer)
    throw new X509Error(
      'NO_SELF_SIGNER',
      'a self-signed certificate needs the signer of its own key',
    );
  return signer;
}
