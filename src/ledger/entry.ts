import { oidToString, readElement } from '../asn1/der.js';
import type { GrantedOutcome } from '../tsp/authority.js';
import { timeStampTokenOf } from '../tsp/response.js';

/** One row of the ledger: what the TSA decided about one granted token, and the token itself. */
export interface LedgerEntry {
  /** The serial number's magnitude without leading zero octets (one integer, one spelling). */
  serial: Uint8Array;
  genTime: Date;
  /** Dotted policy OID of the token. */
  policy: string;
  /** The messageImprint: its hash algorithm's name and the hashed message. */
  hashAlgorithm: string;
  hashedMessage: Uint8Array;
  /** The DER TimeStampToken (a CMS ContentInfo): the transparency log's entry. */
  token: Uint8Array;
  /** The clock's state when the token was made, where the process monitors it. */
  timeSource?: object;
}

/** The ledger's spelling of a serial number: its bytes without leading zeros (at least one). */
export function normalizeSerial(serial: Uint8Array): Uint8Array {
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start);
}

/**
 * A serial number as clients write it (`openssl ts -reply -text` prints `0x…`): hexadecimal in
 * any case, `0x` optional, at most 160 bits. Undefined for anything else.
 */
export function parseSerialHex(text: string): Uint8Array | undefined {
  if (text.length > 64) return undefined;
  // Leading zeros allowed: a DER INTEGER's sign octet, printed by some tools.
  const hex = text.replace(/^0x/i, '').replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]{1,40}$/i.test(hex)) return undefined;
  return normalizeSerial(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
}

export function ledgerEntry(granted: GrantedOutcome, defaultPolicy: string): LedgerEntry {
  const { request } = granted;
  const policy = granted.policy ?? request.reqPolicy;
  const entry: LedgerEntry = {
    serial: normalizeSerial(Buffer.from(granted.serialNumber, 'hex')),
    genTime: granted.genTime,
    policy: policy ? oidToString(readElement(policy).value) : defaultPolicy,
    hashAlgorithm: request.hash.name,
    hashedMessage: request.hashedMessage,
    token: timeStampTokenOf(granted.der),
  };
  // The clock's evidence the authority read for this token.
  if (granted.timeSource !== undefined) entry.timeSource = granted.timeSource;
  return entry;
}
