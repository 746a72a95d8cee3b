import { sequence, unsignedInteger } from '../../asn1/der.js';
import { SignerError } from '../signer-error.js';

/**
 * The length of a raw ECDSA signature on each JOSE curve: r and s, each as long as the curve's
 * order (RFC 7518 section 3.4: 64, 96 and 132 bytes).
 */
export const RAW_ECDSA_SIGNATURE_LENGTH: Readonly<Record<string, number>> = {
  'P-256': 64,
  'P-384': 96,
  'P-521': 132,
};

/**
 * Converts a raw IEEE P1363 ECDSA signature (r || s, as JOSE and Azure Key Vault return it) to the
 * DER Ecdsa-Sig-Value CMS needs: `SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 section 2.2.3).
 * `expectedLength`, when the curve is known, refuses a signature of another curve's length or a
 * cut one whose halves would not be r and s.
 */
export function ecdsaRawToDer(raw: Uint8Array, expectedLength?: number): Buffer {
  if (expectedLength !== undefined && raw.length !== expectedLength)
    throw new SignerError(
      'BAD_ANSWER',
      `raw ECDSA signature has ${raw.length} bytes, not the curve's ${expectedLength}`,
    );
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new SignerError('BAD_ANSWER', `raw ECDSA signature has odd length ${raw.length}`);
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}
