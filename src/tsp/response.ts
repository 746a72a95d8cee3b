import { integer, namedBitString, readElement, sequence, Tag, tlv } from '../asn1/der.js';
import { FailInfo, type TimeStampRejection } from './rejection.js';

const REJECTION = 2;
/**
 * Most reasons are fixed texts, but a clock's detail names its measured offset and changes each
 * round: at most this many encodings are kept, the oldest dropped for a new one.
 */
export const CACHED_REJECTIONS = 64;
const cache = new Map<string, Buffer>();

/**
 * TimeStampResp with status rejection (RFC 3161 section 2.4.2):
 *   PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
 *                                failInfo PKIFailureInfo OPTIONAL }
 * A reason's encoding is made once and kept while it is among the last CACHED_REJECTIONS seen.
 */
export function encodeRejection(rejection: TimeStampRejection): Buffer {
  const key = `${rejection.failInfo}\0${rejection.message}\0${rejection.detail ?? ''}`;
  let encoded = cache.get(key);
  if (!encoded) {
    const texts = [rejection.message, ...(rejection.detail ? [rejection.detail] : [])];
    const statusString = sequence(
      ...texts.map((text) => tlv(Tag.UTF8_STRING, Buffer.from(text, 'utf8'))),
    );
    encoded = sequence(
      sequence(integer(REJECTION), statusString, namedBitString([FailInfo[rejection.failInfo]])),
    );
    if (cache.size >= CACHED_REJECTIONS) cache.delete(cache.keys().next().value!);
    cache.set(key, encoded);
  }
  return encoded;
}

/** The TimeStampToken (a CMS ContentInfo) inside a granted TimeStampResp: what the ledger logs. */
export function timeStampTokenOf(response: Uint8Array): Uint8Array {
  const { value } = readElement(response);
  const status = readElement(value);
  return readElement(value, status.end).bytes;
}
