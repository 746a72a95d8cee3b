import { createECDH, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  parseKeyset,
  primaryKey,
  privateKeyFromTinkKey,
  TYPE_URL,
} from '../../../src/signers/tink/keyset.js';
import {
  bytesField,
  encodeKeyset,
  uintField,
  type KeySpec,
} from '../../helpers/protobuf-encode.js';

const primary: KeySpec = { keyId: 7, typeUrl: TYPE_URL.ecdsaPrivateKey, value: Buffer.from('k') };
const other: KeySpec = { keyId: 8, typeUrl: TYPE_URL.ecdsaPrivateKey, value: Buffer.from('k') };

const primaryOf = (plaintext: Uint8Array) => primaryKey(parseKeyset(plaintext));

describe('Tink keyset validation: every key, not only the primary, as tink-go keyset.Validate', () => {
  it('accepts each known output prefix type (TINK, LEGACY, RAW, CRUNCHY) and status', () => {
    for (const outputPrefixType of [1, 2, 3, 4])
      for (const status of [1, 2, 3])
        expect(
          primaryOf(encodeKeyset(7, [primary, { ...other, outputPrefixType, status }])).keyId,
        ).toBe(7);
  });

  it.each([0, 5, 1000])('refuses a key whose output prefix type is unknown (%i)', (type) => {
    // uintField omits 0, as protobuf does for a default: the key has no prefix type at all.
    expect(() =>
      primaryOf(encodeKeyset(7, [primary, { ...other, outputPrefixType: type }])),
    ).toThrow(`Tink keyset: key 8 has unknown output prefix type ${type}`);
  });

  it.each([0, 4, 99])('refuses a non-primary key whose status is unknown (%i)', (status) => {
    expect(() => primaryOf(encodeKeyset(7, [primary, { ...other, status }]))).toThrow(
      `Tink keyset: key 8 has unknown status ${status}`,
    );
  });

  it('a key id shared with a key that is not ENABLED is no conflict; the primary is the ENABLED key with its id', () => {
    const enabledPrimary = { ...primary, value: Buffer.from('enabled') };
    const disabledCopy = { ...primary, status: 2, value: Buffer.from('disabled') };
    for (const keys of [
      [disabledCopy, enabledPrimary],
      [enabledPrimary, disabledCopy],
    ])
      expect(Buffer.from(primaryOf(encodeKeyset(7, keys)).value).toString()).toBe('enabled');
    // Non-primary keys sharing an id, ENABLED or not: tink-go accepts them, and they sign nothing.
    expect(primaryOf(encodeKeyset(7, [primary, other, other, { ...other, status: 3 }])).keyId).toBe(
      7,
    );
  });

  it('refuses two ENABLED keys with the primary key id, and a primary id whose keys are none ENABLED', () => {
    expect(() => primaryOf(encodeKeyset(7, [primary, other, primary]))).toThrow(
      'Tink keyset has 2 ENABLED keys with the primary key id 7',
    );
    expect(() =>
      primaryOf(encodeKeyset(7, [{ ...primary, status: 2 }, { ...primary, status: 3 }, other])),
    ).toThrow('Tink primary key 7 is DISABLED, not ENABLED');
  });

  it('refuses a key without key data', () => {
    const bare = bytesField(2, Buffer.concat([uintField(2, 1), uintField(3, 8), uintField(4, 3)]));
    const keyset = Buffer.concat([encodeKeyset(7, [primary]), bare]);
    expect(() => primaryOf(keyset)).toThrow('Tink keyset: key 8 has no key data');
  });
});

/** The order n of P-256's base point. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const be32 = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');

/** The public point d*G of a P-256 scalar in [1, n - 1], as (x, y). */
function publicPoint(d: bigint): { x: Buffer; y: Buffer } {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(be32(d));
  const uncompressed = ecdh.getPublicKey();
  return { x: uncompressed.subarray(1, 33), y: uncompressed.subarray(33) };
}

/** A Tink EcdsaPrivateKey key (P-256, SHA-256, DER) with scalar `d` and stored point (x, y). */
function ecdsaKey(d: Uint8Array, { x, y }: { x: Buffer; y: Buffer }) {
  const params = Buffer.concat([uintField(1, 3), uintField(2, 2), uintField(3, 2)]);
  const publicKey = Buffer.concat([bytesField(2, params), bytesField(3, x), bytesField(4, y)]);
  const value = Buffer.concat([bytesField(2, publicKey), bytesField(3, d)]);
  return primaryOf(
    encodeKeyset(7, [{ keyId: 7, typeUrl: TYPE_URL.ecdsaPrivateKey, value, outputPrefixType: 1 }]),
  );
}

describe('Tink ECDSA key: the private scalar is in [1, n - 1], as Go and Tink require', () => {
  const G = publicPoint(1n);
  const refusal =
    "Tink ECDSA key: key_value is not a P-256 private key (it must be from 1 to the curve's order minus 1)";

  it.each([
    ['n + 1 with the stored point G (OpenSSL signed with d = 1)', P256_ORDER + 1n],
    ['n (OpenSSL: point at infinity)', P256_ORDER],
    ['0 (OpenSSL: point at infinity)', 0n],
  ])('refuses d = %s', (_, d) => {
    expect(() => privateKeyFromTinkKey(ecdsaKey(be32(d), G))).toThrow(refusal);
  });

  it('accepts d = 1 and d = n - 1, which signs', () => {
    expect(privateKeyFromTinkKey(ecdsaKey(be32(1n), G)).asymmetricKeyType).toBe('ec');
    const key = privateKeyFromTinkKey(
      ecdsaKey(be32(P256_ORDER - 1n), publicPoint(P256_ORDER - 1n)),
    );
    const signature = sign('sha256', Buffer.from('x'), key);
    expect(verify('sha256', Buffer.from('x'), key, signature)).toBe(true);
  });
});
