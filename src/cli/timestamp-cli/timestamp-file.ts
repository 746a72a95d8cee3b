import { readElement, Tag, tlv } from '../../asn1/der.js';
import { CliError } from './output.js';

/** A TimeStampResp with status granted around a token, for the response parser and verifier. */
export const grantedResponse = (token: Uint8Array): Buffer =>
  tlv(Tag.SEQUENCE, tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, new Uint8Array([0]))), token);

/**
 * Whether `bytes` are a bare TimeStampToken, a CMS ContentInfo (`openssl ts -reply -token_out`, a
 * log entry): one SEQUENCE whose first element is an OID (its contentType), where a TimeStampResp's
 * is a SEQUENCE (its PKIStatusInfo).
 */
function isBareToken(bytes: Uint8Array): boolean {
  try {
    const outer = readElement(bytes);
    return outer.tag === Tag.SEQUENCE && outer.end === bytes.length
      ? readElement(outer.value).tag === Tag.OID
      : false;
  } catch {
    return false;
  }
}

/**
 * 'PEM' or 'base64' for a file of that text, where DER is expected, or undefined: DER of either
 * kind begins with a SEQUENCE's 0x30, and the DER parser's own words for text ("trailing data
 * after the response": its first character read as a tag) would not say what is wrong.
 */
function textInsteadOfDer(bytes: Buffer): 'PEM' | 'base64' | undefined {
  if (bytes.length === 0 || bytes[0] === Tag.SEQUENCE) return undefined;
  const text = bytes.toString('latin1');
  if (/^\s*-----BEGIN [^-\r\n]*-----/.test(text)) return 'PEM';
  // Base64 lines, and what they hold a DER SEQUENCE: not any word of letters.
  const lines = text.trim().replace(/\r?\n/g, '');
  return /^[A-Za-z0-9+/]+={0,2}$/.test(lines) && Buffer.from(lines, 'base64')[0] === Tag.SEQUENCE
    ? 'base64'
    : undefined;
}

/** A --timestamp file: the TimeStampResp to parse, and whether the file held a bare token. */
export interface TimestampFile {
  response: Buffer;
  /** The file is a TimeStampToken, not a TimeStampResp: it has no status of its own. */
  bareToken: boolean;
}

/**
 * A --timestamp file as a TimeStampResp: a response as it is; a bare TimeStampToken, as openssl
 * reads one with `-token_in`, inside a granted response, so that it is parsed and verified as the
 * token of a response is (the status is the response's, not the token's: none is checked).
 */
export function readTimestampFile(bytes: Buffer): TimestampFile {
  const textKind = textInsteadOfDer(bytes);
  if (textKind)
    throw new CliError(
      'INVALID_RESPONSE',
      `error parsing response into Timestamp: the --timestamp file is ${textKind} text, where DER is expected: decode it first (base64 -d)`,
    );
  return isBareToken(bytes)
    ? { response: grantedResponse(bytes), bareToken: true }
    : { response: bytes, bareToken: false };
}
