import { createPublicKey, type KeyObject } from 'node:crypto';
import { bitString, oid, readElement, sequence, Tag } from '../../asn1/der.js';
import { OID } from '../../asn1/oids.js';
import { CKK } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
/** The curves' DER OIDs as CKA_EC_PARAMS holds them (namedCurve), and their point length. */
const NAMED_CURVES: Record<string, number> = {
  [oid('1.2.840.10045.3.1.7').toString('hex')]: 65,
  [oid('1.3.132.0.34').toString('hex')]: 97,
  [oid('1.3.132.0.35').toString('hex')]: 133,
};
/** Ed25519 in CKA_EC_PARAMS: the RFC 8410 OID, or the PrintableString of PKCS #11 3.0 drafts. */
const ED25519_PARAMS = new Set([
  oid(OID.ed25519).toString('hex'),
  Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]).toString('hex'),
]);

/** The attributes of a key pair that make its public key. */
export interface KeyAttributes {
  keyType: number;
  modulus?: Buffer;
  publicExponent?: Buffer;
  ecParams?: Buffer;
  /** CKA_EC_POINT of the public key object: DER OCTET STRING (the standard) or the raw point. */
  ecPoint?: Buffer;
}

/** The point inside CKA_EC_POINT: most modules wrap it in an OCTET STRING, some return it raw. */
function unwrapPoint(value: Buffer, pointLength: number, display: string): Buffer {
  if (value.length === pointLength) return value;
  if (value[0] === Tag.OCTET_STRING) {
    try {
      const element = readElement(value);
      if (element.end === value.length && element.value.length === pointLength)
        return Buffer.from(element.value);
    } catch {
      // refused below
    }
  }
  throw new Pkcs11Error(
    'KEY_UNSUPPORTED',
    `${display}: CKA_EC_POINT is not a point of the key's curve`,
  );
}

/** The public key of a PKCS#11 key pair; refuses key types the TSA cannot sign with. */
export function publicKeyFromAttributes(attributes: KeyAttributes, display: string): KeyObject {
  const unsupported = (why: string) => new Pkcs11Error('KEY_UNSUPPORTED', `${display}: ${why}`);
  const needs = <T>(value: T | undefined, name: string): T => {
    if (value === undefined || (Buffer.isBuffer(value) && value.length === 0))
      throw unsupported(`the key has no ${name}`);
    return value;
  };
  switch (attributes.keyType) {
    case CKK.RSA:
      return createPublicKey({
        key: {
          kty: 'RSA',
          n: needs(attributes.modulus, 'CKA_MODULUS').toString('base64url'),
          e: needs(attributes.publicExponent, 'CKA_PUBLIC_EXPONENT').toString('base64url'),
        },
        format: 'jwk',
      });
    case CKK.EC: {
      const params = needs(attributes.ecParams, 'CKA_EC_PARAMS');
      const pointLength = NAMED_CURVES[params.toString('hex')];
      if (!pointLength) throw unsupported('unsupported EC curve: use P-256, P-384 or P-521');
      const point = unwrapPoint(
        needs(attributes.ecPoint, 'public key object (CKA_EC_POINT)'),
        pointLength,
        display,
      );
      return createPublicKey({
        key: sequence(sequence(oid(EC_PUBLIC_KEY), params), bitString(point)),
        format: 'der',
        type: 'spki',
      });
    }
    case CKK.EC_EDWARDS: {
      const params = needs(attributes.ecParams, 'CKA_EC_PARAMS');
      if (!ED25519_PARAMS.has(params.toString('hex')))
        throw unsupported('unsupported Edwards curve: only Ed25519 is supported');
      const point = unwrapPoint(
        needs(attributes.ecPoint, 'public key object (CKA_EC_POINT)'),
        32,
        display,
      );
      return createPublicKey({
        key: sequence(sequence(oid(OID.ed25519)), bitString(point)),
        format: 'der',
        type: 'spki',
      });
    }
    default:
      throw unsupported(
        `unsupported key type CKK 0x${attributes.keyType.toString(16)}, must be RSA, EC or Ed25519`,
      );
  }
}
