import { describe, expect, it } from 'vitest';
import { parseKeyset, primaryKey, TYPE_URL } from '../../../src/signers/tink/keyset.js';
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

  it('refuses a key without key data', () => {
    const bare = bytesField(2, Buffer.concat([uintField(2, 1), uintField(3, 8), uintField(4, 3)]));
    const keyset = Buffer.concat([encodeKeyset(7, [primary]), bare]);
    expect(() => primaryOf(keyset)).toThrow('Tink keyset: key 8 has no key data');
  });
});
