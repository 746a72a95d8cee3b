/** Just enough protobuf encoding to build Tink keysets in tests. */

export function varint(value: number | bigint): Buffer {
  let rest = BigInt(value);
  const out: number[] = [];
  do {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest === 0n ? byte : byte | 0x80);
  } while (rest !== 0n);
  return Buffer.from(out);
}

export const uintField = (number: number, value: number | bigint): Buffer =>
  value === 0 || value === 0n
    ? Buffer.alloc(0)
    : Buffer.concat([varint(number << 3), varint(value)]);

export const bytesField = (number: number, value: Uint8Array | string): Buffer => {
  const payload = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([varint((number << 3) | 2), varint(payload.length), payload]);
};

export interface KeySpec {
  keyId: number;
  typeUrl: string;
  value: Uint8Array;
  /** KeyStatusType: ENABLED = 1, DISABLED = 2. */
  status?: number;
  /** OutputPrefixType: TINK = 1, RAW = 3. */
  outputPrefixType?: number;
  /** KeyMaterialType: ASYMMETRIC_PRIVATE = 2. */
  keyMaterialType?: number;
}

/** A serialized google.crypto.tink.Keyset. */
export function encodeKeyset(primaryKeyId: number, keys: KeySpec[]): Buffer {
  return Buffer.concat([
    uintField(1, primaryKeyId),
    ...keys.map((key) =>
      bytesField(
        2,
        Buffer.concat([
          bytesField(
            1,
            Buffer.concat([
              bytesField(1, key.typeUrl),
              bytesField(2, key.value),
              uintField(3, key.keyMaterialType ?? 2),
            ]),
          ),
          uintField(2, key.status ?? 1),
          uintField(3, key.keyId),
          uintField(4, key.outputPrefixType ?? 1),
        ]),
      ),
    ),
  ]);
}
