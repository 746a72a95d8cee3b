import { CodedError } from '../../errors.js';

/**
 * What can go wrong with a PKCS#11 key. URI_INVALID, PIN_SOURCE, PIN_MISSING (no PIN for a token
 * that requires a login), MODULE_LOAD, TOKEN_NOT_FOUND, KEY_NOT_FOUND, KEY_AMBIGUOUS,
 * KEY_UNSUPPORTED, PIN_INCORRECT and PIN_LOCKED stop start-up;
 * TOKEN_UNAVAILABLE (token removed, session or handle gone) makes the signer reopen its sessions;
 * TIMEOUT is a signature, or another module call, not answered within --pkcs11-timeout;
 * SIGN_FAILED is any other refusal of a signature.
 */
export type Pkcs11ErrorCode =
  | 'URI_INVALID'
  | 'PIN_SOURCE'
  | 'PIN_MISSING'
  | 'MODULE_LOAD'
  | 'TOKEN_NOT_FOUND'
  | 'KEY_NOT_FOUND'
  | 'KEY_AMBIGUOUS'
  | 'KEY_UNSUPPORTED'
  | 'PIN_INCORRECT'
  | 'PIN_LOCKED'
  | 'TOKEN_UNAVAILABLE'
  | 'TIMEOUT'
  | 'SIGN_FAILED';

/** Messages name the key by its URI without the query (never a PIN). */
export class Pkcs11Error extends CodedError<Pkcs11ErrorCode> {
  override name = 'Pkcs11Error';
}

/**
 * What a call to the PKCS#11 module's process fails with: MODULE_ERROR carries the binding's
 * message (the CKR_ name when the module refused); HOST_STOPPED is every call of a process that
 * was stopped, was stuck, or died.
 */
export class Pkcs11CallError extends CodedError<'MODULE_ERROR' | 'HOST_STOPPED'> {
  override name = 'Pkcs11CallError';
}
