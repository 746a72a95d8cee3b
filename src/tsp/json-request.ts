import { HASHES } from '../asn1/algorithms.js';
import { integer, integerContent, oid, oidContent } from '../asn1/der.js';
import { JsonNumber, JsonObject, parseJson, type JsonValue } from './json-value.js';
import { reject } from './rejection.js';
import { MAX_NONCE_OCTETS, type TimeStampReq } from './request.js';

/** The Go server's cap on a JSON request body (#1402: its nonce parse was quadratic). */
export const MAX_JSON_REQUEST_BYTES = 1024;
/**
 * The Go server's cap on tsaPolicyOID components (GHSA-4qg8-fj49-pxjh): it refuses more than 128
 * dots, so 129 components pass, though its message says "at most 128 components".
 */
export const MAX_JSON_OID_COMPONENTS = 129;

const INT64_MAX = (1n << 63n) - 1n;
const BASE64_STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Invalid UTF-8 becomes U+FFFD, as in Go's encoding/json (so it is refused only where a field
// must hold a known value). ignoreBOM keeps a leading U+FEFF so the parser refuses it, as Go does.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
// Go's base64.StdEncoding skips CR and LF anywhere in its input.
const NEWLINES = /[\r\n]/g;

// A Map: the name is client input, and a plain object would also find "constructor"...
const JSON_HASH_OIDS: ReadonlyMap<string, Uint8Array> = new Map([
  ['sha256', oidContent(HASHES.sha256.oid)],
  ['sha384', oidContent(HASHES.sha384.oid)],
  ['sha512', oidContent(HASHES.sha512.oid)],
]);

/**
 * Reads the Go server's JSON request into a TimeStampReq:
 *   {"artifactHash": "<std base64>", "hashAlgorithm": "sha256", "certificates": true,
 *    "nonce": 1234, "tsaPolicyOID": "1.2.3"}
 * Checks run in Go's order: size, JSON, hash name (SHA-1 refused as weak), OID syntax, base64.
 */
export function parseJsonTimeStampReq(body: Uint8Array): TimeStampReq {
  if (body.length > MAX_JSON_REQUEST_BYTES) throw reject.jsonTooLarge();
  let document: JsonValue;
  try {
    document = parseJson(utf8.decode(body));
  } catch {
    throw reject.malformed('not a JSON object');
  }
  if (!(document instanceof JsonObject)) throw reject.malformed('not a JSON object');
  const fields = readFields(document);

  const hashName = fields.hashAlgorithm.toLowerCase();
  // Go's getHashAlg answers "sha1" with the weak-hash error itself, before any other field.
  if (hashName === 'sha1') throw reject.weakHash();
  const hashAlgorithmOid = JSON_HASH_OIDS.get(hashName);
  if (!hashAlgorithmOid) throw reject.unsupportedHash();
  const request: TimeStampReq = {
    version: 1n,
    hashAlgorithmOid,
    hashedMessage: new Uint8Array(0),
    certReq: fields.certificates,
  };
  if (fields.tsaPolicyOID !== '') request.reqPolicy = policyFromDotted(fields.tsaPolicyOID);
  const artifactHash = fields.artifactHash.replace(NEWLINES, '');
  if (!BASE64_STD.test(artifactHash)) throw reject.malformed('artifactHash is not base64');
  request.hashedMessage = Buffer.from(artifactHash, 'base64');
  if (fields.nonce !== undefined) request.nonce = integer(fields.nonce);
  return request;
}

interface JsonFields {
  artifactHash: string;
  hashAlgorithm: string;
  certificates: boolean;
  nonce?: bigint;
  tsaPolicyOID: string;
}

/**
 * Non-ASCII letters that Go's encoding/json folds to an ASCII one (its key fold is
 * unicode.ToUpper(unicode.ToLower(r)) since Go 1.21, its foldName): the Kelvin sign, the long s,
 * the dotted capital I and the dotless small i. JavaScript's toLowerCase keeps ſ and ı as they
 * are and turns İ into two code points, so these are mapped first.
 */
const GO_FOLDS_TO_ASCII: Readonly<Record<string, string>> = {
  '\u212a': 'k',
  '\u017f': 's',
  '\u0130': 'i',
  '\u0131': 'i',
};

/** A JSON field name as Go's encoding/json matches it (our names are ASCII). */
const foldName = (name: string): string =>
  name.replace(/[\u212a\u017f\u0130\u0131]/g, (letter) => GO_FOLDS_TO_ASCII[letter]!).toLowerCase();

/** The request's fields by their names as foldName() leaves them. */
const FIELD_NAMES: ReadonlyMap<string, keyof JsonFields> = new Map(
  (['artifactHash', 'hashAlgorithm', 'certificates', 'nonce', 'tsaPolicyOID'] as const).map(
    (name) => [foldName(name), name],
  ),
);

/**
 * The fields, each occurrence of a name applied in document order as Go's encoding/json applies
 * them to its JSONRequest: names match case-insensitively; a later value replaces an earlier one;
 * null leaves a string or a boolean as it was and clears the nonce (a *big.Int); a value of the
 * wrong type is skipped, and the first such one refuses the request once all are read; a nonce
 * that is not an integer refuses it at once (big.Int's UnmarshalJSON fails the whole decoding).
 */
function readFields(document: JsonObject): JsonFields {
  const fields: JsonFields = {
    artifactHash: '',
    hashAlgorithm: '',
    certificates: false,
    tsaPolicyOID: '',
  };
  let typeError: Error | undefined;
  for (const [key, value] of document.members) {
    const name = FIELD_NAMES.get(foldName(key));
    if (name === 'nonce') {
      if (value === null) delete fields.nonce;
      else fields.nonce = nonceOf(value);
    } else if (name === undefined || value === null) {
      continue;
    } else if (name === 'certificates') {
      if (typeof value === 'boolean') fields.certificates = value;
      else typeError ??= reject.malformed('certificates must be a boolean');
    } else if (typeof value === 'string') {
      fields[name] = value;
    } else {
      typeError ??= reject.malformed(`${name} must be a string`);
    }
  }
  if (typeError) throw typeError;
  return fields;
}

function nonceOf(value: JsonValue): bigint {
  if (!(value instanceof JsonNumber) || !/^-?(?:0|[1-9]\d*)$/.test(value.text))
    throw reject.malformed('nonce must be an integer');
  const nonce = BigInt(value.text);
  if (integerContent(nonce).length > MAX_NONCE_OCTETS)
    throw reject.malformed(`nonce longer than ${MAX_NONCE_OCTETS} octets`);
  return nonce;
}

/**
 * The reqPolicy TLV for a dotted OID, following Go: more than 128 dots, or a component that is
 * not an int64, is an OID error. A syntactically valid OID that DER cannot express (a negative
 * arc) yields an empty TLV, which equals no accepted policy and so is refused as unaccepted.
 */
function policyFromDotted(dotted: string): Uint8Array {
  const components = dotted.split('.');
  if (components.length > MAX_JSON_OID_COMPONENTS) throw reject.oidTooLong();
  const arcs = components.map((component) => {
    // strconv.Atoi's syntax: any number of digits (leading zeros too), the value an int64.
    if (!/^[+-]?\d+$/.test(component)) throw reject.oidTooLong();
    const arc = BigInt(component);
    if (arc > INT64_MAX || arc < -INT64_MAX - 1n) throw reject.oidTooLong();
    return arc;
  });
  try {
    return oid(arcs.join('.'));
  } catch {
    return new Uint8Array(0);
  }
}
