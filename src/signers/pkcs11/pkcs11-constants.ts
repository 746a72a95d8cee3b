/*
 * The PKCS#11 numbers this signer uses (PKCS #11 v3.0, pkcs11t.h), so that the code that reads
 * key attributes and picks mechanisms needs no native module (and can be tested without one).
 */
export const CKA = {
  CLASS: 0x000,
  LABEL: 0x003,
  KEY_TYPE: 0x100,
  ID: 0x102,
  MODULUS: 0x120,
  PUBLIC_EXPONENT: 0x122,
  EC_PARAMS: 0x180,
  EC_POINT: 0x181,
} as const;

export const CKO_PUBLIC_KEY = 2;
export const CKO_PRIVATE_KEY = 3;

export const CKK = { RSA: 0x00, EC: 0x03, EC_EDWARDS: 0x40 } as const;

export const CKM = {
  RSA_PKCS: 0x0001,
  RSA_PKCS_PSS: 0x000d,
  SHA256: 0x0250,
  SHA384: 0x0260,
  SHA512: 0x0270,
  ECDSA: 0x1041,
  /** PKCS #11 v3.0; pkcs11js 2.1.7 has no constant for it. */
  EDDSA: 0x1057,
} as const;

export const CKG_MGF1 = { sha256: 0x02, sha384: 0x03, sha512: 0x04 } as const;

export const CKU_USER = 1;
export const CKF_SERIAL_SESSION = 0x4;
export const CKF_OS_LOCKING_OK = 0x2;
/** CK_TOKEN_INFO: the token's private objects are usable only after C_Login. */
export const CKF_LOGIN_REQUIRED = 0x4;
/** CK_TOKEN_INFO: the token was initialized (a blank one holds no objects). */
export const CKF_TOKEN_INITIALIZED = 0x400;

/**
 * Return values that say the token, the session or the key handle is gone (token removed, HSM
 * restarted or unreachable): the signer drops its sessions and opens new ones when the token is
 * back. Any other CKR_ fails only the signature it answered.
 */
export const TOKEN_GONE = new Set([
  'CKR_GENERAL_ERROR',
  'CKR_SLOT_ID_INVALID',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_REMOVED',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);
