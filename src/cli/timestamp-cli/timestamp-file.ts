import { readElement, Tag, tlv } from '../../asn1/der.js';

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
  return isBareToken(bytes)
    ? { response: grantedResponse(bytes), bareToken: true }
    : { response: bytes, bareToken: false };
}
