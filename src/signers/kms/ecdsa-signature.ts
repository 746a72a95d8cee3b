import { sequence, unsignedInteger } from '../../asn1/der.js';
import { SignerError } from '../signer-error.js';

/**
 * Converts a raw IEEE P1363 ECDSA signature (r || s, as JOSE and Azure Key Vault return it) to the
 * DER Ecdsa-Sig-Value CMS needs: `SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 section 2.2.3).
 */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new SignerError('BAD_ANSWER', `raw ECDSA signature has odd length ${raw.length}`);
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}
