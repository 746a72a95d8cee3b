import { CodedError } from '../errors.js';

/** A certificate file or structure this module cannot use; the chain rules have ChainRuleError. */
export class X509Error extends CodedError<
  | 'NO_CERTIFICATES'
  /** A PEM text cut short or garbled: a block without its END line, a body not in base64. */
  | 'INVALID_PEM'
  | 'NOT_A_CERTIFICATE'
  | 'TRAILING_DATA'
  | 'INVALID_NAME'
  | 'INVALID_NAME_CONSTRAINT'
  | 'NO_SELF_SIGNER'
  | 'CHAIN_PATH_MISSING'
  | 'CHAIN_UNREADABLE'
  | 'CHAIN_INVALID'
  /** A subject public key Go's crypto/x509 does not parse (an EC curve given by parameters). */
  | 'INVALID_PUBLIC_KEY'
  /** An extension whose value does not follow its ASN.1 definition. */
  | 'INVALID_EXTENSION'
> {
  override name = 'X509Error';
}
