import { CodedError } from '../errors.js';

/** A certificate file or structure this module cannot use; the chain rules have ChainRuleError. */
export class X509Error extends CodedError<
  | 'NO_CERTIFICATES'
  | 'NOT_A_CERTIFICATE'
  | 'TRAILING_DATA'
  | 'INVALID_NAME'
  | 'INVALID_NAME_CONSTRAINT'
  | 'NO_SELF_SIGNER'
  | 'CHAIN_PATH_MISSING'
  | 'CHAIN_UNREADABLE'
  | 'CHAIN_INVALID'
> {
  override name = 'X509Error';
}
