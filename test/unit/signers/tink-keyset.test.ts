import { createECDH, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  keysetSigningKey,
  parseKeyset,
  primaryKey,
  privateKeyFromTinkKey,
  TYPE_URL,
} from '../../../src/signers/tink/keyset.js';
import { readEncryptedKeyset } from '../../../src/signers/tink/encrypted-keyset.js';
import { bytes, readMessage } from '../../../src/signers/tink/protobuf.js';
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

type Curve = 'P-256' | 'P-384' | 'P-521';
const CURVE_NUMBER: Record<Curve, number> = { 'P-256': 2, 'P-384': 3, 'P-521': 4 };
/** Tink HashType: SHA1=1, SHA384=2, SHA256=3, SHA512=4, SHA224=5. */
const HASH = { SHA1: 1, SHA384: 2, SHA256: 3, SHA512: 4, SHA224: 5 } as const;
/** EcdsaSignatureEncoding: IEEE_P1363=1, DER=2. */
const IEEE_P1363 = 1;
const DER = 2;

/** A valid EcdsaPrivateKey value of a fresh key, with EcdsaParams (hash, curve, encoding) as given. */
function ecdsaValue(curve: Curve, hash: number, encoding: number, tamper = false): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({
    format: 'jwk',
  });
  const field = (base64url: string | undefined) => Buffer.from(base64url ?? '', 'base64url');
  const params = Buffer.concat([
    uintField(1, hash),
    uintField(2, CURVE_NUMBER[curve]),
    uintField(3, encoding),
  ]);
  const y = field(jwk.y);
  // The stored point is no longer d*G.
  if (tamper) y[y.length - 1] = (y[y.length - 1] as number) ^ 1;
  const publicKey = Buffer.concat([
    bytesField(2, params),
    bytesField(3, field(jwk.x)),
    bytesField(4, y),
  ]);
  return Buffer.concat([bytesField(2, publicKey), bytesField(3, field(jwk.d))]);
}

const ecdsaKeyOf = (value: Buffer) =>
  primaryOf(encodeKeyset(7, [{ keyId: 7, typeUrl: TYPE_URL.ecdsaPrivateKey, value }]));

describe('Tink ECDSA key: EcdsaParams as tink-go ecdsa.NewParameters takes them', () => {
  it.each<[Curve, keyof typeof HASH, number]>([
    ['P-256', 'SHA256', DER],
    ['P-256', 'SHA256', IEEE_P1363],
    ['P-384', 'SHA384', DER],
    ['P-384', 'SHA512', IEEE_P1363],
    ['P-521', 'SHA512', DER],
  ])('accepts %s with %s (encoding %i)', (curve, hash, encoding) => {
    const key = privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue(curve, HASH[hash], encoding)));
    expect(key.asymmetricKeyDetails?.namedCurve).toBe(
      { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' }[curve],
    );
  });

  it.each<[Curve, keyof typeof HASH, string]>([
    ['P-256', 'SHA512', 'SHA256'],
    ['P-256', 'SHA384', 'SHA256'],
    ['P-256', 'SHA1', 'SHA256'],
    ['P-384', 'SHA256', 'SHA384 or SHA512'],
    ['P-521', 'SHA384', 'SHA512'],
    ['P-521', 'SHA224', 'SHA512'],
  ])('refuses %s with %s (checkValidHashForCurve)', (curve, hash, allowed) => {
    const tinkCurve = `NIST_${curve.replace('-', '')}`;
    expect(() => privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue(curve, HASH[hash], DER)))).toThrow(
      `Tink ECDSA key: hash_type ${hash} is not allowed with ${tinkCurve} (Tink allows ${allowed})`,
    );
  });

  it('refuses an unknown hash (0, 99) and an unknown signature encoding (0, 3)', () => {
    expect(() => privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue('P-256', 0, DER)))).toThrow(
      'hash_type UNKNOWN_HASH is not allowed with NIST_P256',
    );
    expect(() => privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue('P-256', 99, DER)))).toThrow(
      'hash_type 99 is not allowed with NIST_P256',
    );
    expect(() => privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue('P-256', HASH.SHA256, 0)))).toThrow(
      'Tink ECDSA key: signature encoding UNKNOWN_ENCODING is not DER or IEEE_P1363',
    );
    expect(() => privateKeyFromTinkKey(ecdsaKeyOf(ecdsaValue('P-256', HASH.SHA256, 3)))).toThrow(
      'Tink ECDSA key: signature encoding 3 is not DER or IEEE_P1363',
    );
  });
});

describe('Tink keyset: every key is parsed, whatever its status, as tink-go keyset.Read does', () => {
  const ecdsa = (keyId: number, value: Buffer, status = 1): KeySpec => ({
    keyId,
    typeUrl: TYPE_URL.ecdsaPrivateKey,
    value,
    status,
  });
  const primaryValue = ecdsaValue('P-256', HASH.SHA256, DER);
  const signingKeyOf = (keys: KeySpec[]) => keysetSigningKey(parseKeyset(encodeKeyset(202, keys)));

  it('returns the primary key among valid keys of every status and type', () => {
    const edJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const ed25519 = Buffer.concat([
      bytesField(2, Buffer.from(edJwk.d ?? '', 'base64url')),
      bytesField(3, bytesField(2, Buffer.from(edJwk.x ?? '', 'base64url'))),
    ]);
    const key = signingKeyOf([
      ecdsa(201, ecdsaValue('P-384', HASH.SHA384, IEEE_P1363), 2),
      ecdsa(202, primaryValue),
      { keyId: 203, typeUrl: TYPE_URL.ed25519PrivateKey, value: ed25519, status: 3 },
      // A type tink-go has no parser for stays an opaque key there, and is not parsed here.
      {
        keyId: 204,
        typeUrl: 'type.googleapis.com/google.crypto.tink.AesGcmKey',
        value: Buffer.from('x'),
        keyMaterialType: 1,
      },
    ]);
    const expected = createPublicKey(privateKeyFromTinkKey(ecdsaKeyOf(primaryValue)));
    expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(
      expected.export({ format: 'jwk' }),
    );
  });

  it.each([
    ['DISABLED', 2],
    ['DESTROYED', 3],
    ['ENABLED', 1],
  ])(
    'refuses a %s non-primary key whose stored public key is not its private key',
    (name, status) => {
      expect(() =>
        signingKeyOf([
          ecdsa(201, ecdsaValue('P-256', HASH.SHA256, DER, true), status),
          ecdsa(202, primaryValue),
        ]),
      ).toThrow(
        `Tink keyset: key 201 (${name}, not the primary) is not a valid key: Tink ECDSA key: the stored public key is not the private key's. Go's Tink refuses a keyset with such a key, whatever its status: remove it (tinkey delete-key --key-id 201)`,
      );
    },
  );

  it('refuses a non-primary key with EcdsaParams Tink refuses, or that is no EcdsaPrivateKey at all', () => {
    expect(() =>
      signingKeyOf([
        ecdsa(202, primaryValue),
        ecdsa(201, ecdsaValue('P-256', HASH.SHA512, DER), 2),
      ]),
    ).toThrow(
      /key 201 \(DISABLED, not the primary\) is not a valid key: Tink ECDSA key: hash_type SHA512/,
    );
    expect(() => signingKeyOf([ecdsa(202, primaryValue), ecdsa(201, Buffer.from('k'), 2)])).toThrow(
      /key 201 \(DISABLED, not the primary\) is not a valid key: /,
    );
    expect(() =>
      signingKeyOf([
        ecdsa(202, primaryValue),
        {
          keyId: 205,
          typeUrl: TYPE_URL.ed25519PrivateKey,
          value: bytesField(2, Buffer.alloc(31)),
          status: 2,
        },
      ]),
    ).toThrow(
      'key 205 (DISABLED, not the primary) is not a valid key: Tink Ed25519 key: key_value must be 32 bytes, not 31',
    );
  });
});

describe('Tink Ed25519 key: versions as tink-go reads them', () => {
  it('refuses an Ed25519PublicKey of a version other than 0', () => {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const value = (publicVersion: number) =>
      Buffer.concat([
        bytesField(2, Buffer.from(jwk.d ?? '', 'base64url')),
        bytesField(
          3,
          Buffer.concat([
            uintField(1, publicVersion),
            bytesField(2, Buffer.from(jwk.x ?? '', 'base64url')),
          ]),
        ),
      ]);
    const keyOf = (publicVersion: number) =>
      primaryOf(
        encodeKeyset(7, [
          { keyId: 7, typeUrl: TYPE_URL.ed25519PrivateKey, value: value(publicVersion) },
        ]),
      );
    expect(privateKeyFromTinkKey(keyOf(0)).asymmetricKeyType).toBe('ed25519');
    expect(() => privateKeyFromTinkKey(keyOf(1))).toThrow(
      'Tink Ed25519PublicKey version 1 is not supported (want 0)',
    );
  });
});

describe('Tink: bytes that are not what tinkey writes are named for what they are', () => {
  it('a plaintext that is not a serialized Keyset (a cleartext JSON keyset encrypted by hand)', () => {
    for (const [plaintext, reason] of [
      [Buffer.from('this is not a protobuf keyset \u00ff', 'utf8'), 'unsupported wire type 4'],
      [Buffer.from(JSON.stringify({ primaryKeyId: 1, key: [] })), 'unsupported wire type 3'],
    ] as const) {
      expect(() => parseKeyset(plaintext)).toThrow(
        `the KEK decrypted the file, but the result is not a serialized Tink Keyset (${reason}): was the keyset encrypted by hand (aws kms encrypt, gcloud kms encrypt) from a cleartext JSON keyset? Encrypt the cleartext keyset with tinkey convert-keyset --new-master-key-uri <the KEK URI>`,
      );
    }
  });

  it('a binary file that is not an EncryptedKeyset', () => {
    expect(() => readEncryptedKeyset(Buffer.from('1205616263', 'hex'))).toThrow(
      'not a Tink EncryptedKeyset: length-delimited field overruns its message (the file is neither JSON nor a binary EncryptedKeyset',
    );
    // keyset_info (field 3) that is no KeysetInfo message.
    const badInfo = Buffer.concat([
      bytesField(2, Buffer.from('ciphertext')),
      bytesField(3, Buffer.from([0x0f])),
    ]);
    expect(() => readEncryptedKeyset(badInfo)).toThrow(
      'not a Tink EncryptedKeyset: unsupported wire type 7',
    );
    expect(Buffer.from(readEncryptedKeyset(bytesField(2, Buffer.from('ct')))).toString()).toBe(
      'ct',
    );
  });
});

describe('Tink JSON EncryptedKeyset: keysetInfo read as protojson reads it (tink-go refuses a malformed one)', () => {
  const file = (fields: Record<string, unknown>) =>
    Buffer.from(JSON.stringify({ encryptedKeyset: 'Y3Q=', ...fields }));
  const keyInfo = {
    typeUrl: TYPE_URL.ecdsaPrivateKey,
    status: 'ENABLED',
    keyId: 1,
    outputPrefixType: 'TINK',
  };

  it.each<[string, unknown]>([
    ['absent', undefined],
    ['null', null],
    ['tinkey-like', { primaryKeyId: 1, keyInfo: [keyInfo] }],
    [
      'proto field names',
      { primary_key_id: 4294967295, key_info: [{ type_url: 'x', key_id: '7' }] },
    ],
    [
      'numbers as strings and enums as numbers',
      { primaryKeyId: '12', keyInfo: [{ status: 2, outputPrefixType: 3 }] },
    ],
    ['null fields', { primaryKeyId: null, keyInfo: null }],
  ])('accepts keysetInfo %s', (_, keysetInfo) => {
    expect(Buffer.from(readEncryptedKeyset(file({ keysetInfo }))).toString()).toBe('ct');
  });

  it.each<[string, unknown, string]>([
    [
      'a primaryKeyId that is no number',
      { primaryKeyId: 'notanumber' },
      'keysetInfo.primaryKeyId must be a uint32',
    ],
    ['a negative primaryKeyId', { primaryKeyId: -1 }, 'keysetInfo.primaryKeyId must be a uint32'],
    [
      'a fractional primaryKeyId',
      { primaryKeyId: 1.5 },
      'keysetInfo.primaryKeyId must be a uint32',
    ],
    [
      'a primaryKeyId past uint32',
      { primaryKeyId: 4294967296 },
      'keysetInfo.primaryKeyId must be a uint32',
    ],
    [
      'a primaryKeyId string with spaces',
      { primaryKeyId: ' 1' },
      'keysetInfo.primaryKeyId must be a uint32',
    ],
    [
      'an unknown field',
      { primaryKeyId: 1, bogus: true },
      'keysetInfo has an unknown field "bogus"',
    ],
    [
      'a field given twice',
      { primaryKeyId: 1, primary_key_id: 1 },
      'keysetInfo has the field primary_key_id twice',
    ],
    ['not an object', 'info', 'keysetInfo must be an object'],
    ['keyInfo not an array', { keyInfo: {} }, 'keysetInfo.keyInfo must be an array'],
    [
      'a keyInfo entry that is null',
      { keyInfo: [null] },
      'keysetInfo.keyInfo[0] must be an object',
    ],
    [
      'an unknown status name',
      { keyInfo: [{ ...keyInfo, status: 'ON' }] },
      'keysetInfo.keyInfo[0].status must be one of UNKNOWN_STATUS, ENABLED, DISABLED, DESTROYED',
    ],
    [
      'an unknown prefix name',
      { keyInfo: [{ ...keyInfo, outputPrefixType: 'TINKY' }] },
      'keysetInfo.keyInfo[0].outputPrefixType must be one of',
    ],
    [
      'a typeUrl that is no string',
      { keyInfo: [{ ...keyInfo, typeUrl: 1 }] },
      'keysetInfo.keyInfo[0].typeUrl must be a string',
    ],
    [
      'an unknown KeyInfo field',
      { keyInfo: [{ ...keyInfo, key: 'x' }] },
      'keysetInfo.keyInfo[0] has an unknown field "key"',
    ],
  ])('refuses %s', (_, keysetInfo, problem) => {
    expect(() => readEncryptedKeyset(file({ keysetInfo }))).toThrow(
      `not a Tink EncryptedKeyset: ${problem}`,
    );
  });

  it('refuses a field given by both of its names', () => {
    expect(() => readEncryptedKeyset(file({ encrypted_keyset: 'Y3Q=' }))).toThrow(
      'not a Tink EncryptedKeyset: both encryptedKeyset and encrypted_keyset (one field, given twice)',
    );
    expect(() => readEncryptedKeyset(file({ keysetInfo: {}, keyset_info: {} }))).toThrow(
      'not a Tink EncryptedKeyset: both keysetInfo and keyset_info',
    );
  });
});

describe('Tink keys: no copy of a private key is left in the shared Buffer pool', () => {
  /** The pool slab that small Buffer allocations come from now. */
  const currentSlab = () => Buffer.allocUnsafe(1).buffer;
  /**
   * Starts a new pool slab and zeroes it (it is uninitialized memory, which may hold anything),
   * so that it holds only what is copied into it from now on. Only the test's own throwaway
   * allocations live in it yet.
   */
  function freshSlab(): ArrayBufferLike {
    const old = currentSlab();
    while (currentSlab() === old) Buffer.allocUnsafe((Buffer.poolSize >>> 1) - 8);
    const slab = currentSlab();
    new Uint8Array(slab).fill(0);
    return slab;
  }
  const holds = (slab: ArrayBufferLike, secret: Uint8Array) =>
    Buffer.from(slab).indexOf(Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)) >=
    0;

  it('ECDSA (P-256, P-384, P-521) and Ed25519', () => {
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const value = ecdsaValue(curve, curve === 'P-256' ? HASH.SHA256 : HASH.SHA512, DER);
      const d = Buffer.from(bytes(readMessage(value), 3));
      const key = ecdsaKeyOf(Buffer.from(value));
      const slab = freshSlab();
      privateKeyFromTinkKey(key);
      expect(holds(slab, d)).toBe(false);
    }
    const edJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const seed = Buffer.from(edJwk.d ?? '', 'base64url');
    const ed25519 = primaryOf(
      encodeKeyset(7, [
        {
          keyId: 7,
          typeUrl: TYPE_URL.ed25519PrivateKey,
          value: Buffer.concat([
            bytesField(2, seed),
            bytesField(3, bytesField(2, Buffer.from(edJwk.x ?? '', 'base64url'))),
          ]),
        },
      ]),
    );
    const slab = freshSlab();
    privateKeyFromTinkKey(ed25519);
    expect(holds(slab, seed)).toBe(false);
  });
});
