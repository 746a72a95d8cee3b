import { bytes, ProtobufError, readMessage } from './protobuf.js';
import { STATUS_NAMES } from './keyset.js';
import { SignerError } from '../signer-error.js';

/**
 * The EncryptedKeyset container tinkey writes (tink.proto), JSON (protojson, its default) or
 * binary: EncryptedKeyset { bytes encrypted_keyset = 2; KeysetInfo keyset_info = 3; }.
 */

/**
 * The KEK ciphertext of an EncryptedKeyset file, JSON (protojson, tinkey's default) or binary.
 * keysetInfo is unencrypted metadata that Tink does not use when decrypting; it is still read as
 * tink-go's JSON reader (protojson) reads it, which refuses the file when it is malformed.
 */
export function readEncryptedKeyset(file: Uint8Array): Uint8Array {
  const text = Buffer.from(file).toString('utf8').trimStart();
  if (text.startsWith('{')) return readJsonEncryptedKeyset(text);
  let ciphertext: Uint8Array;
  try {
    const fields = readMessage(file);
    ciphertext = bytes(fields, 2);
    // keyset_info, when there, is a KeysetInfo message, as proto.Unmarshal requires.
    readMessage(bytes(fields, 3));
  } catch (error) {
    if (!(error instanceof ProtobufError)) throw error;
    throw new SignerError(
      'INVALID_KEY',
      `not a Tink EncryptedKeyset: ${error.message} (the file is neither JSON nor a binary EncryptedKeyset: write it with tinkey create-keyset --master-key-uri …)`,
    );
  }
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
  for (const [jsonName, protoName] of [
    ['encryptedKeyset', 'encrypted_keyset'],
    ['keysetInfo', 'keyset_info'],
  ] as const) {
    if (jsonName in record && protoName in record)
      throw new SignerError(
        'INVALID_KEY',
        `not a Tink EncryptedKeyset: both ${jsonName} and ${protoName} (one field, given twice)`,
      );
  }
  const info = record.keysetInfo ?? record.keyset_info;
  const problem = info === undefined || info === null ? undefined : KEYSET_INFO(info, 'keysetInfo');
  if (problem)
    throw new SignerError(
      'INVALID_KEY',
      `not a Tink EncryptedKeyset: ${problem} (Go's Tink refuses the file too: write it with tinkey, or remove keysetInfo, which is only metadata)`,
    );
  const encoded = record.encryptedKeyset ?? record.encrypted_keyset;
  if (typeof encoded !== 'string' || encoded === '' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded)) {
    throw new SignerError(
      'INVALID_KEY',
      'not a Tink EncryptedKeyset: encryptedKeyset must be non-empty base64',
    );
  }
  return Buffer.from(encoded, 'base64');
}

/**
 * A check of a protojson value as protojson.Unmarshal (tink-go's JSON reader) reads it:
 * undefined when it takes the value, else what is wrong, at `path`.
 */
type JsonCheck = (value: unknown, path: string) => string | undefined;

/** uint32: a JSON number, or a string holding one (no sign, no spaces), integral and in range. */
const jsonUint32: JsonCheck = (value, path) => {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isInteger(number) && number >= 0 && number <= 0xffffffff
    ? undefined
    : `${path} must be a uint32 (a number, or a string holding one)`;
};

const jsonString: JsonCheck = (value, path) =>
  typeof value === 'string' ? undefined : `${path} must be a string`;

/** An enum: one of its names, or an int32 number (protojson takes unknown numbers). */
const jsonEnum =
  (names: readonly string[]): JsonCheck =>
  (value, path) =>
    (typeof value === 'string' && names.includes(value)) ||
    (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 0x7fffffff)
      ? undefined
      : `${path} must be one of ${names.join(', ')}`;

const jsonRepeated =
  (element: JsonCheck): JsonCheck =>
  (value, path) => {
    if (!Array.isArray(value)) return `${path} must be an array`;
    for (const [index, item] of value.entries()) {
      const problem = element(item, `${path}[${index}]`);
      if (problem) return problem;
    }
    return undefined;
  };

/** A message whose fields are given by their proto names; protojson takes the JSON (lowerCamel) names too. */
function jsonMessage(fields: Record<string, JsonCheck>): JsonCheck {
  const byName = new Map<string, [string, JsonCheck]>();
  for (const [protoName, check] of Object.entries(fields)) {
    byName.set(protoName, [protoName, check]);
    byName.set(
      protoName.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()),
      [protoName, check],
    );
  }
  return (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return `${path} must be an object`;
    const seen = new Set<string>();
    for (const [name, field] of Object.entries(value)) {
      const known = byName.get(name);
      if (!known) return `${path} has an unknown field ${JSON.stringify(name)}`;
      if (seen.has(known[0])) return `${path} has the field ${known[0]} twice`;
      seen.add(known[0]);
      // protojson leaves a field that is null unset.
      if (field === null) continue;
      const problem = known[1](field, `${path}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  };
}

/**
 * KeysetInfo { uint32 primary_key_id = 1; repeated KeyInfo key_info = 2; }
 * KeyInfo    { string type_url = 1; KeyStatusType status = 2; uint32 key_id = 3;
 *              OutputPrefixType output_prefix_type = 4; }
 */
const KEYSET_INFO = jsonMessage({
  primary_key_id: jsonUint32,
  key_info: jsonRepeated(
    jsonMessage({
      type_url: jsonString,
      status: jsonEnum(STATUS_NAMES),
      key_id: jsonUint32,
      output_prefix_type: jsonEnum(['UNKNOWN_PREFIX', 'TINK', 'LEGACY', 'RAW', 'CRUNCHY']),
    }),
  ),
});
