import { randomBytes } from 'node:crypto';
import { HASHES, type HashName } from '../../asn1/algorithms.js';
import { boolean, integer, octetString, oid, sequence, unsignedInteger } from '../../asn1/der.js';

export interface RequestFields {
  hash: HashName;
  digest: Uint8Array;
  policy?: string;
  nonce?: bigint;
  certReq: boolean;
}

/** A random positive nonce below 2^159, as Go's cryptoutils.GenerateSerialNumber. */
export function randomNonce(): bigint {
  const bytes = randomBytes(20);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return BigInt(`0x${bytes.toString('hex')}`);
}

/**
 * TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint MessageImprint,
 *   reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE, ... }
 */
export function encodeTimeStampReq(fields: RequestFields): Buffer {
  const hash = HASHES[fields.hash];
  const parts = [integer(1), sequence(hash.identifierWithNull, octetString(fields.digest))];
  if (fields.policy !== undefined) parts.push(oid(fields.policy));
  if (fields.nonce !== undefined)
    parts.push(unsignedInteger(Buffer.from(hexOf(fields.nonce), 'hex')));
  if (fields.certReq) parts.push(boolean(true));
  return sequence(...parts);
}

function hexOf(value: bigint): string {
  const hex = value.toString(16);
  return hex.length % 2 ? `0${hex}` : hex;
}
