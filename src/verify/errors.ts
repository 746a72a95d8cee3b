import { CodedError } from '../errors.js';

/**
 * What a token or request fails on. Kebab-case, as the request codes of verifyTimestampRequest
 * (the package's public API) have always been.
 */
export type VerificationErrorCode =
  /** The bytes are not the structure they claim to be. */
  | 'malformed'
  /** The response status is not granted. */
  | 'not-granted'
  | 'weak-hash'
  | 'unsupported-hash'
  | 'digest-length'
  /** A certificate given as an option does not parse. */
  | 'invalid-certificate'
  | 'no-roots'
  | 'no-signer-certificate'
  | 'certificate-mismatch'
  | 'chain'
  /** The TSA (leaf) certificate breaks a rule: a CA, its EKU, its common name. */
  | 'tsa-certificate'
  | 'eku'
  | 'signature'
  | 'nonce'
  | 'policy'
  | 'hash-mismatch'
  | 'tsa-name';

/** A token that does not verify. The message names the problem, in the Go library's words. */
export class VerificationError<
  Code extends VerificationErrorCode = VerificationErrorCode,
> extends CodedError<Code> {
  override name = 'VerificationError';
}

/** A SignerInfo whose signature or signed attributes do not verify ('signature'). */
export const signatureError = (message: string): VerificationError<'signature'> =>
  new VerificationError('signature', `error while verifying signature: ${message}`);

/** Bytes that do not decode; the caller wraps it in a VerificationError that says what they were. */
export class DecodeError extends CodedError<'not-der' | 'unexpected-type'> {
  override name = 'DecodeError';
}

/** Throws a VerificationError with `code` and `message` unless `condition` holds. */
export function ensure(
  condition: unknown,
  code: VerificationErrorCode,
  message: string,
): asserts condition {
  if (!condition) throw new VerificationError(code, message);
}
