import { createHash, type KeyObject } from 'node:crypto';
import { DerSequenceReader, oidToString, readExactly, Tag } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/**
 * Whether a SubjectPublicKeyInfo holds an EC key whose curve is spelled out (specifiedCurve) or
 * left out (implicitCurve, NULL) rather than named. RFC 5480 section 2.1.1 allows the named form
 * only; Go's crypto/x509 refuses the others ("x509: invalid ECDSA parameters"), and `openssl ts
 * -verify` a certificate holding one ("Certificate public key has explicit ECC parameters"),
 * though Node reads them.
 */
export function hasSpecifiedCurve(spki: Uint8Array): boolean {
  const reader = new DerSequenceReader(readExactly(spki, Tag.SEQUENCE).value);
  const algorithm = new DerSequenceReader(reader.next(Tag.SEQUENCE).value);
  const oid = oidToString(algorithm.next(Tag.OID).value);
  return oid === OID.ecPublicKey && algorithm.peekTag() !== Tag.OID;
}

/** The subjectPublicKey BIT STRING's content of a key's SubjectPublicKeyInfo (the key itself). */
export function subjectPublicKeyBits(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  const reader = new DerSequenceReader(readExactly(spki, Tag.SEQUENCE).value);
  reader.next(Tag.SEQUENCE);
  return Buffer.from(reader.next(Tag.BIT_STRING).value);
}

/**
 * The same RSA key labelled rsaEncryption in one SubjectPublicKeyInfo and id-RSASSA-PSS in the
 * other (a KMS reports the first, a certificate restricting the key to PSS holds the second).
 */
export function sameRsaKey(a: KeyObject, b: KeyObject): boolean {
  const rsa = (key: KeyObject) =>
    key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
  return rsa(a) && rsa(b) && subjectPublicKeyBits(a).equals(subjectPublicKeyBits(b));
}

/** E.g. "P-384 sha256:3f2a…" or "RSA-PSS 3072 sha256:…": the type, size and SPKI fingerprint. */
export function describePublicKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  let type: string;
  switch (key.asymmetricKeyType) {
    case 'ec':
      type = CURVE_NAMES[details.namedCurve ?? ''] ?? `EC ${details.namedCurve ?? 'unknown'}`;
      break;
    case 'rsa':
      type = `RSA ${details.modulusLength ?? '?'}`;
      break;
    case 'rsa-pss':
      type = `RSA-PSS ${details.modulusLength ?? '?'}`;
      break;
    case 'ed25519':
      type = 'Ed25519';
      break;
    default:
      type = key.asymmetricKeyType ?? 'unknown';
  }
  const spki = key.export({ type: 'spki', format: 'der' });
  return `${type} sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
