import { CodedError } from '../errors.js';

/** A token profile the authority cannot be built with (a start-up error, never a request's). */
export class TokenProfileError extends CodedError<
  'NO_LEAF_CERTIFICATE' | 'INVALID_EXTENSION_OID' | 'EXTENSION_NEVER_ACCEPTED'
> {
  override name = 'TokenProfileError';
}
