import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { oid, tlv, contextTag } from '../../asn1/der.js';
import {
  bytes,
  ProtobufError,
  readMessage,
  repeatedBytes,
  uint,
  type FieldValue,
} from './protobuf.js';
import { SignerError } from '../signer-error.js';

/**
 * Tink keysets (tink.proto): the Keyset inside the EncryptedKeyset container written by tinkey
 * (encrypted-keyset.ts).
 *   Keyset          { uint32 primary_key_id = 1; repeated Key key = 2; }
 *   Keyset.Key      { KeyData key_data = 1; KeyStatusType status = 2; uint32 key_id = 3;
 *                     OutputPrefixType output_prefix_type = 4; }
 *   KeyData         { string type_url = 1; bytes value = 2; KeyMaterialType key_material_type = 3; }
 */

export const KeyStatus = { UNKNOWN_STATUS: 0, ENABLED: 1, DISABLED: 2, DESTROYED: 3 } as const;
export const STATUS_NAMES = ['UNKNOWN_STATUS', 'ENABLED', 'DISABLED', 'DESTROYED'];
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
 * Parses a serialized Keyset (the KEK's plaintext). Bytes that are no protobuf message are no
 * Keyset: the KEK decrypted what it was given, which was not what tinkey writes.
 */
export function parseKeyset(plaintext: Uint8Array): Keyset {
  try {
    return readKeyset(plaintext);
  } catch (error) {
    if (!(error instanceof ProtobufError)) throw error;
    throw new SignerError(
      'INVALID_KEY',
      `the KEK decrypted the file, but the result is not a serialized Tink Keyset (${error.message}): was the keyset encrypted by hand (aws kms encrypt, gcloud kms encrypt) from a cleartext JSON keyset? Encrypt the cleartext keyset with tinkey convert-keyset --new-master-key-uri <the KEK URI>`,
    );
  }
}

function readKeyset(plaintext: Uint8Array): Keyset {
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

/** The key types whose keys are parsed: those that sign. tink-go keeps a key of a type it has no parser for as it is. */
const PARSED_TYPE_URLS = new Set<string>([TYPE_URL.ecdsaPrivateKey, TYPE_URL.ed25519PrivateKey]);

/**
 * The private key of the keyset's primary key (primaryKey), after every key of a type we sign with
 * is parsed and checked, whatever its status, as tink-go's keyset.Read does (keysetToEntries:
 * protoserialization.ParseKey of each key): one that does not parse refuses the whole keyset.
 */
export function keysetSigningKey(keyset: Keyset): KeyObject {
  const primary = primaryKey(keyset);
  let signing: KeyObject | undefined;
  for (const key of keyset.keys) {
    if (!PARSED_TYPE_URLS.has(key.typeUrl)) continue;
    if (key === primary) {
      signing = privateKeyFromTinkKey(key);
      continue;
    }
    try {
      privateKeyFromTinkKey(key);
    } catch (error) {
      const status = STATUS_NAMES[key.status] ?? String(key.status);
      throw new SignerError(
        'INVALID_KEY',
        `Tink keyset: key ${key.keyId} (${status}, not the primary) is not a valid key: ${(error as Error).message}. Go's Tink refuses a keyset with such a key, whatever its status: remove it (tinkey delete-key --key-id ${key.keyId})`,
        { cause: error },
      );
    }
  }
  // A primary of another type is refused by its type URL.
  return signing ?? privateKeyFromTinkKey(primary);
}

interface Curve {
  name: string;
  /** The EllipticCurveType name, as Tink's messages say it. */
  tinkName: string;
  oid: string;
  size: number;
  /** The order n of the base point, `size` bytes big-endian: a private scalar is in [1, n - 1] (SEC 1 section 3.2.1). */
  order: Buffer;
  /** The HashTypes tink-go's ecdsa.NewParameters takes with the curve (checkValidHashForCurve). */
  hashes: readonly number[];
}

/** HashType: SHA1=1, SHA384=2, SHA256=3, SHA512=4, SHA224=5. */
const HASH_NAMES = ['UNKNOWN_HASH', 'SHA1', 'SHA384', 'SHA256', 'SHA512', 'SHA224'];
const SHA384 = 2;
const SHA256 = 3;
const SHA512 = 4;
/** EcdsaSignatureEncoding: IEEE_P1363=1, DER=2; UNKNOWN_ENCODING=0 is refused by Tink. */
const ENCODING_NAMES = ['UNKNOWN_ENCODING', 'IEEE_P1363', 'DER'];

const curve = (
  name: string,
  tinkName: string,
  oid: string,
  size: number,
  order: string,
  hashes: readonly number[],
): Curve => ({ name, tinkName, oid, size, order: Buffer.from(order, 'hex'), hashes });

/** EllipticCurveType: NIST_P256=2, NIST_P384=3, NIST_P521=4. */
const CURVES: Record<number, Curve> = {
  2: curve(
    'P-256',
    'NIST_P256',
    '1.2.840.10045.3.1.7',
    32,
    'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
    [SHA256],
  ),
  3: curve(
    'P-384',
    'NIST_P384',
    '1.3.132.0.34',
    48,
    'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
    [SHA384, SHA512],
  ),
  4: curve(
    'P-521',
    'NIST_P521',
    '1.3.132.0.35',
    66,
    '01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
    [SHA512],
  ),
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
  checkEcdsaParams(curve, Number(uint(params, 1)), Number(uint(params, 3)));
  // Every copy of d made here is in memory of its own (Buffer.alloc, not the shared pool) and
  // zeroed once OpenSSL holds the key.
  let d: Buffer | undefined;
  let sec1: Buffer | undefined;
  try {
    d = fixedWidth(bytes(privateKey, 3), curve.size, 'key_value');
    const x = fixedWidth(bytes(publicKey, 3), curve.size, 'x');
    const y = fixedWidth(bytes(publicKey, 4), curve.size, 'y');
    // As Go and Tink: OpenSSL would take d = n + 1 as d = 1 (its d*G then matched a stored G),
    // and refused 0 and n only with "point at infinity". Compared as bytes: no string of d.
    if (d.every((byte) => byte === 0) || Buffer.compare(d, curve.order) >= 0)
      throw new SignerError(
        'INVALID_KEY',
        `Tink ECDSA key: key_value is not a ${curve.name} private key (it must be from 1 to the curve's order minus 1)`,
      );
    // SEC1 ECPrivateKey { 1, d, [0] curve } without its public key: OpenSSL computes d*G. Every
    // length is below 128 (80 bytes for P-521), so each takes one byte.
    const parameters = tlv(contextTag(0, true), oid(curve.oid));
    sec1 = concatOwn([
      Uint8Array.of(0x30, 3 + 2 + d.length + parameters.length, 0x02, 0x01, 0x01),
      Uint8Array.of(0x04, d.length),
      d,
      parameters,
    ]);
    const key = createPrivateKey({ key: sec1, format: 'der', type: 'sec1' });
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    if (jwk.x !== x.toString('base64url') || jwk.y !== y.toString('base64url')) {
      throw new SignerError(
        'INVALID_KEY',
        "Tink ECDSA key: the stored public key is not the private key's",
      );
    }
    return key;
  } finally {
    d?.fill(0);
    sec1?.fill(0);
  }
}

/**
 * EcdsaParams as tink-go's ecdsa.NewParameters takes them: a known hash and signature encoding,
 * and a hash its curve allows (checkValidHashForCurve). The signature itself uses neither (the
 * digest is --timestamp-signer-hash, the token DER), but Go's Tink refuses the keyset.
 */
function checkEcdsaParams(curve: Curve, hash: number, encoding: number): void {
  const hashName = HASH_NAMES[hash] ?? String(hash);
  if (!curve.hashes.includes(hash))
    throw new SignerError(
      'INVALID_KEY',
      `Tink ECDSA key: hash_type ${hashName} is not allowed with ${curve.tinkName} (Tink allows ${curve.hashes.map((allowed) => HASH_NAMES[allowed]).join(' or ')}): make the key with a tinkey template (ECDSA_P256, ECDSA_P384, ECDSA_P521 …)`,
    );
  if (encoding !== 1 && encoding !== 2)
    throw new SignerError(
      'INVALID_KEY',
      `Tink ECDSA key: signature encoding ${ENCODING_NAMES[encoding] ?? String(encoding)} is not DER or IEEE_P1363: make the key with a tinkey template (ECDSA_P256, ECDSA_P256_IEEE_P1363 …)`,
    );
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
  const publicKey = readMessage(bytes(privateKey, 3));
  checkVersion(publicKey, 'Ed25519PublicKey');
  // PKCS#8 in memory of its own (not the shared pool), zeroed once OpenSSL holds the key.
  const pkcs8 = concatOwn([ED25519_PKCS8_PREFIX, seed]);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } finally {
    pkcs8.fill(0);
  }
  const stored = Buffer.from(bytes(publicKey, 2));
  const derived = createPublicKey(key).export({ format: 'jwk' }).x;
  if (stored.length !== 32 || derived !== stored.toString('base64url')) {
    throw new SignerError(
      'INVALID_KEY',
      "Tink Ed25519 key: the stored public key is not the private key's",
    );
  }
  return key;
}

/** PrivateKeyInfo { 0, { id-Ed25519 }, OCTET STRING { OCTET STRING (32 bytes) } } up to the seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

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
 * zeros, then left-pad to the field size, in memory of its own (the caller zeroes a secret one).
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
  const out = Buffer.alloc(size);
  out.set(magnitude, size - magnitude.length);
  return out;
}

/**
 * `parts` joined in memory of its own (Buffer.alloc), for the caller to zero: Buffer.concat, like
 * der.ts, takes small buffers from Node's shared pool.
 */
function concatOwn(parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.alloc(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
