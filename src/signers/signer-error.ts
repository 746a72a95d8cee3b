import { CodedError } from '../errors.js';

/** What keeps a signer from starting or signing; remote calls also have RemoteSignerError. */
export type SignerErrorCode =
  /** A signer option the chosen signer needs is not set. */
  | 'OPTION_MISSING'
  /** The key (or keyset) file cannot be read, or a key generated cannot be written there. */
  | 'KEY_UNREADABLE'
  /** The key material is malformed or inconsistent. */
  | 'INVALID_KEY'
  /** The key is of a type, curve or size this TSA does not sign with. */
  | 'UNSUPPORTED_KEY'
  /** The key is encrypted and no password (or KEK) was given for it. */
  | 'KEY_ENCRYPTED'
  /** Decrypting the key (or keyset) failed: wrong password or KEK, or a damaged file. */
  | 'DECRYPTION_FAILED'
  /**
   * The KEK's service was not reached, or answered but not with a decryption or a refusal to
   * decrypt (an error page, a 5xx, no permission): the keyset was not tried.
   */
  | 'KEK_UNAVAILABLE'
  /** A KMS or KEK key URI is malformed or names an unknown scheme. */
  | 'INVALID_KEY_URI'
  /** An endpoint override (GCP_KMS_ENDPOINT, AWS_ENDPOINT_URL_KMS...) is malformed. */
  | 'INVALID_ENDPOINT'
  /** The KMS key exists but cannot sign here (disabled, wrong usage, no enabled version). */
  | 'KEY_NOT_USABLE'
  /** No credentials for the key service. */
  | 'NO_CREDENTIALS'
  /** The key service answered without what was asked for. */
  | 'BAD_ANSWER';

export class SignerError extends CodedError<SignerErrorCode> {
  override name = 'SignerError';
}
