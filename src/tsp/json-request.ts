import { HASHES } from '../asn1/algorithms.js';
import { integer, integerContent, oid, oidContent } from '../asn1/der.js';
import { JsonNumber, parseJson, type JsonValue } from './json-value.js';
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
  if (
    document === null ||
    typeof document !== 'object' ||
    Array.isArray(document) ||
    document instanceof JsonNumber
  ) {
    throw reject.malformed('not a JSON object');
  }
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

/** Field names match case-insensitively and the last duplicate wins, as Go's encoding/json. */
function readFields(document: { [key: string]: JsonValue }): JsonFields {
  const byName = new Map<string, JsonValue>();
  for (const [key, value] of Object.entries(document)) byName.set(foldName(key), value);
  const string = (name: string): string => {
    const value = byName.get(foldName(name));
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') throw reject.malformed(`${name} must be a string`);
    return value;
  };
  const certificates = byName.get('certificates');
  if (certificates !== undefined && certificates !== null && typeof certificates !== 'boolean') {
    throw reject.malformed('certificates must be a boolean');
  }
  const fields: JsonFields = {
    artifactHash: string('artifactHash'),
    hashAlgorithm: string('hashAlgorithm'),
    certificates: certificates === true,
    tsaPolicyOID: string('tsaPolicyOID'),
  };
  const nonce = byName.get('nonce');
  if (nonce !== undefined && nonce !== null) {
    if (!(nonce instanceof JsonNumber) || !/^-?(?:0|[1-9]\d*)$/.test(nonce.text)) {
      throw reject.malformed('nonce must be an integer');
    }
    const value = BigInt(nonce.text);
    if (integerContent(value).length > MAX_NONCE_OCTETS)
      throw reject.malformed(`nonce longer than ${MAX_NONCE_OCTETS} octets`);
    fields.nonce = value;
  }
  return fields;
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
    if (!/^[+-]?\d{1,20}$/.test(component)) throw reject.oidTooLong();
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
