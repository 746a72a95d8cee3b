import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derProblem } from './der.js';
import { DecodeError, VerificationError } from './errors.js';
import { digestByOid, type DigestName } from './oids.js';

/** Why a request was refused, as Go's ErrWeakHashAlg, ErrUnsupportedHashAlg, ErrInconsistentDigestLength. */
export type RequestErrorCode = 'malformed' | 'weak-hash' | 'unsupported-hash' | 'digest-length';

export class RequestVerificationError extends VerificationError<RequestErrorCode> {}

export interface CheckedRequest {
  hashAlgorithm: DigestName;
  hashedMessage: Buffer;
  policy: string | undefined;
  nonce: bigint | undefined;
  certReq: boolean;
}

const DIGEST_LENGTHS: Partial<Record<DigestName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/**
 * Checks a DER TimeStampReq as Go's verification.VerifyRequest does: SHA-256, SHA-384 or SHA-512
 * only, with a digest of that algorithm's length. For clients that check a request before sending it.
 */
export function verifyTimestampRequest(tsq: Uint8Array): CheckedRequest {
  let request: pkijs.TimeStampReq;
  try {
    const decoded = asn1js.fromBER(tsq);
    if (decoded.offset === -1 || decoded.offset !== tsq.byteLength) {
      throw new DecodeError('not-der', 'not a single DER value');
    }
    // asn1js reads BER: a request the TSA (and Go's encoding/asn1) refuses as not DER must not
    // pass here (indefinite or non-minimal lengths, padded INTEGERs, a BOOLEAN other than FF).
    const problem = derProblem(tsq);
    if (problem) throw new DecodeError('not-der', `not DER: ${problem}`);
    request = new pkijs.TimeStampReq({ schema: decoded.result });
  } catch (error) {
    throw new RequestVerificationError(
      'malformed',
      `not a TimeStampReq: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const hashAlgorithm = digestByOid(request.messageImprint.hashAlgorithm.algorithmId);
  if (hashAlgorithm === 'sha1') {
    throw new RequestVerificationError(
      'weak-hash',
      'weak hash algorithm: must be SHA-256, SHA-384, or SHA-512',
    );
  }
  const expected = hashAlgorithm ? DIGEST_LENGTHS[hashAlgorithm] : undefined;
  if (!hashAlgorithm || expected === undefined) {
    throw new RequestVerificationError('unsupported-hash', 'unsupported hash algorithm');
  }
  const hashedMessage = Buffer.from(request.messageImprint.hashedMessage.getValue());
  if (hashedMessage.length !== expected) {
    throw new RequestVerificationError(
      'digest-length',
      `digest length inconsistent with specified hash algorithm: expected ${expected} bytes, got ${hashedMessage.length} bytes`,
    );
  }
  return {
    hashAlgorithm,
    hashedMessage,
    policy: request.reqPolicy,
    nonce: request.nonce?.toBigInt(),
    certReq: request.certReq ?? false,
  };
}
