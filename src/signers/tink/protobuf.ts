import { CodedError } from '../../errors.js';

/**
 * A minimal protobuf wire-format reader: enough for Tink's Keyset messages. Fields may come in any
 * order and repeat; unknown fields are skipped, as protobuf requires.
 */

export type FieldValue =
  { wireType: 0; value: bigint } | { wireType: 2; value: Uint8Array } | { wireType: 1 | 5 };

export class ProtobufError extends CodedError<
  'TRUNCATED' | 'TOO_LONG' | 'INVALID_FIELD' | 'UNSUPPORTED'
> {
  override name = 'ProtobufError';
}

/** Every field of a message, in wire order, grouped by field number. */
export function readMessage(bytes: Uint8Array): Map<number, FieldValue[]> {
  const fields = new Map<number, FieldValue[]>();
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= bytes.length) throw new ProtobufError('TRUNCATED', 'truncated varint');
      const byte = bytes[offset++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new ProtobufError('TOO_LONG', 'varint longer than 10 bytes');
  };
  while (offset < bytes.length) {
    const key = varint();
    const fieldNumber = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (fieldNumber === 0) throw new ProtobufError('INVALID_FIELD', 'field number 0');
    let field: FieldValue;
    switch (wireType) {
      case 0:
        field = { wireType, value: varint() };
        break;
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (offset + size > bytes.length)
          throw new ProtobufError('TRUNCATED', 'truncated fixed-width field');
        offset += size;
        field = { wireType };
        break;
      }
      case 2: {
        const length = varint();
        if (length > BigInt(bytes.length - offset))
          throw new ProtobufError('TRUNCATED', 'length-delimited field overruns its message');
        const end = offset + Number(length);
        field = { wireType, value: bytes.subarray(offset, end) };
        offset = end;
        break;
      }
      default:
        throw new ProtobufError('UNSUPPORTED', `unsupported wire type ${wireType}`);
    }
    const list = fields.get(fieldNumber);
    if (list) list.push(field);
    else fields.set(fieldNumber, [field]);
  }
  return fields;
}

/** The last occurrence of a scalar field wins (protobuf merge semantics); 0 when absent. */
export function uint(fields: Map<number, FieldValue[]>, number: number): bigint {
  const list = fields.get(number);
  const last = list?.[list.length - 1];
  if (!last) return 0n;
  if (last.wireType !== 0)
    throw new ProtobufError('INVALID_FIELD', `field ${number} must be a varint`);
  return last.value;
}

/** The last occurrence of a bytes/string/message field; empty when absent. */
export function bytes(fields: Map<number, FieldValue[]>, number: number): Uint8Array {
  const list = fields.get(number);
  const last = list?.[list.length - 1];
  if (!last) return new Uint8Array(0);
  if (last.wireType !== 2)
    throw new ProtobufError('INVALID_FIELD', `field ${number} must be length-delimited`);
  return last.value;
}

/** Every occurrence of a repeated length-delimited field. */
export function repeatedBytes(fields: Map<number, FieldValue[]>, number: number): Uint8Array[] {
  return (fields.get(number) ?? []).map((field) => {
    if (field.wireType !== 2)
      throw new ProtobufError('INVALID_FIELD', `field ${number} must be length-delimited`);
    return field.value;
  });
}
