import type { HashName } from '../../src/asn1/algorithms.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import type { KeyAlgorithm } from './openssl-pki.js';

/** A TSA key the server signs with, as a test serves it. */
export interface TsaKeyType {
  /** Its name in test titles and in the client matrix of docs/api.md. */
  label: string;
  /** The leaf key openssl makes for it ({@link OpensslPki.key}). */
  algorithm: KeyAlgorithm;
  /** Every `--timestamp-signer-hash` the server accepts with this key, the conventional one first. */
  signerHashes: readonly HashName[];
  /** Any further server flags the key needs. */
  flags?: Partial<Record<ServeOptionName, unknown>>;
}

const SHA2: readonly HashName[] = ['sha256', 'sha384', 'sha512'];

/** Every key type the server supports, one line each. */
export const TSA_KEY_TYPES: readonly TsaKeyType[] = [
  { label: 'ECDSA P-256', algorithm: 'P-256', signerHashes: SHA2 },
  { label: 'ECDSA P-384', algorithm: 'P-384', signerHashes: ['sha384', 'sha256', 'sha512'] },
  { label: 'ECDSA P-521', algorithm: 'P-521', signerHashes: ['sha512', 'sha256', 'sha384'] },
  { label: 'Ed25519', algorithm: 'Ed25519', signerHashes: ['sha512'] },
  { label: 'RSA 2048 PKCS#1 v1.5', algorithm: 'RSA-2048', signerHashes: SHA2 },
  { label: 'RSA 3072 PKCS#1 v1.5', algorithm: 'RSA-3072', signerHashes: SHA2 },
  { label: 'RSA 4096 PKCS#1 v1.5', algorithm: 'RSA-4096', signerHashes: SHA2 },
  { label: 'RSA-PSS 2048', algorithm: 'RSA-PSS-2048', signerHashes: SHA2 },
  { label: 'RSA-PSS 3072', algorithm: 'RSA-PSS-3072', signerHashes: SHA2 },
];
