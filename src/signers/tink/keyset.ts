import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { integer, octetString, oid, sequence, tlv, contextTag } from '../../asn1/der.js';
import { bytes, readMessage, repeatedBytes, uint, type FieldValue } from './protobuf.js';
import { SignerError } from '../signer-error.js';

/**
 * Tink keysets (tink.proto): the EncryptedKeyset container written by tinkey, and the Keyset
 * inside it.
 *   EncryptedKeyset { bytes encrypted_keyset = 2; KeysetInfo keyset_info = 3; }
 *   Keyset          { uint32 primary_key_id = 1; repeated Key key = 2; }
 *   Keyset.Key      { KeyData key_data = 1; KeyStatusType status = 2; uint32 key_id = 3;
 *                     OutputPrefixType output_prefix_type = 4; }
 *   KeyData         { string type_url = 1; bytes value = 2; KeyMaterialType key_material_type = 3; }
 */

export const KeyStatus = { UNKNOWN_STATUS: 0, ENABLED: 1, DISABLED: 2, DESTROYED: 3 } as const;
const STATUS_NAMES = ['UNKNOWN_STATUS', 'ENABLED', 'DISABLED', 'DESTROYED'];
/** OutputPrefixType: TINK=1, LEGACY=2, RAW=3, CRUNCHY=4; 0 is UNKNOWN_PREFIX. */
const KNOWN_OUTPUT_PREFIXES = new Set([1, 2, 3, 4]);
const ASYMMETRIC_PRIVATE = 2;

export interface TinkKey {
  /** Whether the Keyset.Key has a key_data field at all. */
  hasKeyData: boolean;
  keyId: number;
  status: number;
  outputPrefixType: number;
  typeUrl: string;
  value: Uint8Array;
  keyMaterialType: number;
}

export interface Keyset {
  primaryKeyId: number;
  keys: TinkKey[];
}

export const TYPE_URL = {
  ecdsaPrivateKey: 'type.googleapis.com/google.crypto.tink.EcdsaPrivateKey',
  ed25519PrivateKey: 'type.googleapis.com/google.crypto.tink.Ed25519PrivateKey',
} as const;

/**
 * The KEK ciphertext of an EncryptedKeyset file, JSON (protojson, tinkey's default) or binary.
 * keysetInfo is unencrypted metadata that Tink ignores when decrypting, and so do we.
 */
export function readEncryptedKeyset(file: Uint8Array): Uint8Array {
  const text = Buffer.from(file).toString('utf8').trimStart();
  if (text.startsWith('{')) return readJsonEncryptedKeyset(text);
  const ciphertext = bytes(readMessage(file), 2);
  if (ciphertext.length === 0)
    throw new SignerError('INVALID_KEY', 'not a Tink EncryptedKeyset: no encrypted_keyset field');
  return ciphertext;
}

const JSON_FIELDS = new Set(['encryptedKeyset', 'encrypted_keyset', 'keysetInfo', 'keyset_info']);

function readJsonEncryptedKeyset(text: string): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SignerError('INVALID_KEY', 'not a Tink EncryptedKeyset: invalid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignerError('INVALID_KEY', 'not a Tink EncryptedKeyset: JSON is not an object');
  }
  // Like protojson (tink-go), refuse unknown fields: they mean a different file.
  const unknown = Object.keys(value).find((key) => !JSON_FIELDS.has(key));
  if (unknown)
    throw new SignerError(
      'INVALID_KEY',
      `not a Tink EncryptedKeyset: unknown field ${JSON.stringify(unknown)}`,
    );
  const record = value as Record<string, unknown>;
  const encoded = record.encryptedKeyset ?? record.encrypted_keyset;
  if (typeof encoded !== 'string' || encoded === '' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded)) {
    throw new SignerError(
      'INVALID_KEY',
      'not a Tink EncryptedKeyset: encryptedKeyset must be non-empty base64',
    );
  }
  return Buffer.from(encoded, 'base64');
}

/** Parses a serialized Keyset (the KEK's plaintext). */
export function parseKeyset(plaintext: Uint8Array): Keyset {
  const fields = readMessage(plaintext);
  const keys = repeatedBytes(fields, 2).map((keyBytes) => {
    const key = readMessage(keyBytes);
    const keyData = readMessage(bytes(key, 1));
    return {
      hasKeyData: key.has(1),
      keyId: toUint32(key, 3),
      status: Number(uint(key, 2)),
      outputPrefixType: Number(uint(key, 4)),
      typeUrl: Buffer.from(bytes(keyData, 1)).toString('utf8'),
      value: bytes(keyData, 2),
      keyMaterialType: Number(uint(keyData, 3)),
    };
  });
  return { primaryKeyId: toUint32(fields, 1), keys };
}

function toUint32(fields: Map<number, FieldValue[]>, number: number): number {
  const value = uint(fields, number);
  if (value > 0xffffffffn)
    throw new SignerError('INVALID_KEY', `Tink keyset: field ${number} exceeds uint32`);
  return Number(value);
}

/**
 * The primary key, checked as Tink's keyset validation (tink-go keyset.Validate) does: every key,
 * primary or not, has key data, a known status and a known output prefix type, and no two ENABLED
 * keys have the primary key id. As there (and in the Go server's getPrimaryKey), the primary is
 * the ENABLED key with that id: another key may share an id with it, or with any key, when one of
 * them is not ENABLED (a disabled copy of a rotated key), which decides nothing here.
 */
export function primaryKey(keyset: Keyset): TinkKey {
  if (keyset.keys.length === 0) throw new SignerError('INVALID_KEY', 'Tink keyset has no keys');
  for (const key of keyset.keys) {
    if (!key.hasKeyData)
      throw new SignerError('INVALID_KEY', `Tink keyset: key ${key.keyId} has no key data`);
    if (key.status < KeyStatus.ENABLED || key.status > KeyStatus.DESTROYED)
      throw new SignerError(
        'INVALID_KEY',
        `Tink keyset: key ${key.keyId} has unknown status ${key.status}`,
      );
    if (!KNOWN_OUTPUT_PREFIXES.has(key.outputPrefixType))
      throw new SignerError(
        'INVALID_KEY',
        `Tink keyset: key ${key.keyId} has unknown output prefix type ${key.outputPrefixType}`,
      );
  }
  const withPrimaryId = keyset.keys.filter((key) => key.keyId === keyset.primaryKeyId);
  const enabled = withPrimaryId.filter((key) => key.status === KeyStatus.ENABLED);
  if (enabled.length > 1)
    throw new SignerError(
      'INVALID_KEY',
      `Tink keyset has ${enabled.length} ENABLED keys with the primary key id ${keyset.primaryKeyId}`,
    );
  const primary = enabled[0];
  if (primary) return primary;
  const other = withPrimaryId[0];
  if (!other)
    throw new SignerError(
      'INVALID_KEY',
      `Tink keyset has no key with the primary key id ${keyset.primaryKeyId}`,
    );
  const status = STATUS_NAMES[other.status] ?? String(other.status);
  throw new SignerError(
    'KEY_NOT_USABLE',
    `Tink primary key ${other.keyId} is ${status}, not ENABLED`,
  );
}

interface Curve {
  name: string;
  oid: string;
  size: number;
  /** The order n of the base point: a private scalar is in [1, n - 1] (SEC 1 section 3.2.1). */
  order: bigint;
}

/** EllipticCurveType: NIST_P256=2, NIST_P384=3, NIST_P521=4. */
const CURVES: Record<number, Curve> = {
  2: {
    name: 'P-256',
    oid: '1.2.840.10045.3.1.7',
    size: 32,
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  3: {
    name: 'P-384',
    oid: '1.3.132.0.34',
    size: 48,
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  4: {
    name: 'P-521',
    oid: '1.3.132.0.35',
    size: 66,
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
};

/**
 * The private key of a Tink key: ECDSA P-256/384/521 or Ed25519. Anything else is refused by its
 * type URL. The stored public key must be the private key's (Tink checks d*G too).
 */
export function privateKeyFromTinkKey(key: TinkKey): KeyObject {
  if (
    key.keyMaterialType !== ASYMMETRIC_PRIVATE &&
    (key.typeUrl === TYPE_URL.ecdsaPrivateKey || key.typeUrl === TYPE_URL.ed25519PrivateKey)
  ) {
    throw new SignerError(
      'UNSUPPORTED_KEY',
      `Tink key ${key.keyId} is not ASYMMETRIC_PRIVATE key material`,
    );
  }
  switch (key.typeUrl) {
    case TYPE_URL.ecdsaPrivateKey:
      return ecdsaPrivateKey(key.value);
    case TYPE_URL.ed25519PrivateKey:
      return ed25519PrivateKey(key.value);
    default:
      throw new SignerError(
        'UNSUPPORTED_KEY',
        `unsupported Tink key type ${key.typeUrl}: use ECDSA P-256/P-384/P-521 or Ed25519`,
      );
  }
}

/**
 * EcdsaPrivateKey { uint32 version = 1; EcdsaPublicKey public_key = 2; bytes key_value = 3; }
 * EcdsaPublicKey  { uint32 version = 1; EcdsaParams params = 2; bytes x = 3; bytes y = 4; }
 * EcdsaParams     { HashType hash_type = 1; EllipticCurveType curve = 2; EcdsaSignatureEncoding encoding = 3; }
 */
function ecdsaPrivateKey(value: Uint8Array): KeyObject {
  const privateKey = readMessage(value);
  checkVersion(privateKey, 'EcdsaPrivateKey');
  const publicKey = readMessage(bytes(privateKey, 2));
  checkVersion(publicKey, 'EcdsaPublicKey');
  const params = readMessage(bytes(publicKey, 2));
  const curveNumber = Number(uint(params, 2));
  const curve = CURVES[curveNumber];
  if (!curve)
    throw new SignerError(
      'UNSUPPORTED_KEY',
      `unsupported Tink ECDSA curve ${curveNumber}: use NIST P-256, P-384 or P-521`,
    );
  const d = fixedWidth(bytes(privateKey, 3), curve.size, 'key_value');
  const x = fixedWidth(bytes(publicKey, 3), curve.size, 'x');
  const y = fixedWidth(bytes(publicKey, 4), curve.size, 'y');
  // As Go and Tink: OpenSSL would take d = n + 1 as d = 1 (its d*G then matched a stored G), and
  // refused 0 and n only with "point at infinity".
  const scalar = BigInt(`0x${d.toString('hex')}`);
  if (scalar === 0n || scalar >= curve.order)
    throw new SignerError(
      'INVALID_KEY',
      `Tink ECDSA key: key_value is not a ${curve.name} private key (it must be from 1 to the curve's order minus 1)`,
    );
  // SEC1 ECPrivateKey without its public key: OpenSSL computes d*G.
  const sec1 = sequence(integer(1), octetString(d), tlv(contextTag(0, true), oid(curve.oid)));
  const key = createPrivateKey({ key: sec1, format: 'der', type: 'sec1' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (jwk.x !== x.toString('base64url') || jwk.y !== y.toString('base64url')) {
    throw new SignerError(
      'INVALID_KEY',
      "Tink ECDSA key: the stored public key is not the private key's",
    );
  }
  return key;
}

/**
 * Ed25519PrivateKey { uint32 version = 1; bytes key_value = 2; Ed25519PublicKey public_key = 3; }
 * Ed25519PublicKey  { uint32 version = 1; bytes key_value = 2; }
 */
function ed25519PrivateKey(value: Uint8Array): KeyObject {
  const privateKey = readMessage(value);
  checkVersion(privateKey, 'Ed25519PrivateKey');
  const seed = bytes(privateKey, 2);
  if (seed.length !== 32)
    throw new SignerError(
      'INVALID_KEY',
      `Tink Ed25519 key: key_value must be 32 bytes, not ${seed.length}`,
    );
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const stored = Buffer.from(bytes(readMessage(bytes(privateKey, 3)), 2));
  const derived = createPublicKey(key).export({ format: 'jwk' }).x;
  if (stored.length !== 32 || derived !== stored.toString('base64url')) {
    throw new SignerError(
      'INVALID_KEY',
      "Tink Ed25519 key: the stored public key is not the private key's",
    );
  }
  return key;
}

function checkVersion(fields: Map<number, FieldValue[]>, message: string): void {
  const version = uint(fields, 1);
  if (version !== 0n)
    throw new SignerError(
      'UNSUPPORTED_KEY',
      `Tink ${message} version ${version} is not supported (want 0)`,
    );
}

/**
 * Tink writes ECDSA integers minimal, two's complement or with one extra 0x00: strip leading
 * zeros, then left-pad to the field size.
 */
function fixedWidth(value: Uint8Array, size: number, field: string): Buffer {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  const magnitude = value.subarray(start);
  if (magnitude.length > size)
    throw new SignerError(
      'INVALID_KEY',
      `Tink ECDSA key: ${field} is longer than the curve's ${size} bytes`,
    );
  return Buffer.concat([Buffer.alloc(size - magnitude.length), magnitude]);
}
