import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { readKeyFile } from './file/read-key-file.js';
import type { HashName } from '../asn1/algorithms.js';
import { preferredHashFor } from '../crypto/key-algorithms.js';
import type { Signer } from '../crypto/signer.js';
import { keyUriRefusal, kmsKeyUriProblem } from '../config/key-uri.js';
import { KMS_SCHEMES } from '../config/signer-config.js';
import { LocalKeySigner } from './local-key.js';
import { isPkcs11Uri } from './pkcs11/pkcs11-uri.js';
import { SignerError } from './signer-error.js';

/** The key types `generate` can make for development. */
export const GENERATED_KEY_TYPES = [
  'ecdsa-p256',
  'ecdsa-p384',
  'ecdsa-p521',
  'rsa',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ed25519',
] as const;
export type GeneratedKeyType = (typeof GENERATED_KEY_TYPES)[number];

export interface KeyReferenceOptions {
  /** When the reference is a file that does not exist, write a fresh key of this type there (0600). */
  generate?: GeneratedKeyType;
  /** The modulus of a generated `rsa` key (CSBR 6.1.5: 4096 for CA keys, 3072 for the TSA's). */
  rsaBits?: number;
  /** Warnings while opening (a PIN in a PKCS#11 URI). */
  warn?: (message: string) => void;
}

/** KMS URI schemes the server's kms signer accepts (reference section 5.3). */
const KMS_PREFIXES = KMS_SCHEMES.map((scheme) => `${scheme}://`);

/**
 * Opens a signer from a key reference, the way the server names keys: a KMS URI (awskms://,
 * gcpkms://, azurekms://, hashivault://), a PKCS#11 URI (RFC 7512, `pkcs11:`) or the path (or `file://` URI) of an unencrypted PEM private key (PKCS#8,
 * PKCS#1 or SEC1). `hash` 'auto' picks the digest that suits the key (P-384: SHA-384; P-521 and
 * Ed25519: SHA-512; else SHA-256).
 */
export async function openKeyReference(
  reference: string,
  hash: HashName | 'auto',
  options: KeyReferenceOptions = {},
): Promise<Signer> {
  if (KMS_PREFIXES.some((prefix) => reference.startsWith(prefix))) {
    // The checks of --kms-key-resource (config/signer-config.ts): secrets never quoted.
    const refusal = keyUriRefusal('key reference', reference, KMS_SCHEMES, kmsKeyUriProblem);
    if (refusal !== undefined) throw new SignerError('INVALID_KEY_URI', refusal);
    // Same providers, credentials and endpoint overrides as --kms-key-resource; SDKs load lazily.
    const { createKmsSigner } = await import('./kms/create-kms-signer.js');
    return createKmsSigner(reference, hash);
  }
  if (isPkcs11Uri(reference)) {
    // The key stays in the token; pkcs11js loads only here. RSA keys sign PKCS#1 v1.5.
    const { createPkcs11Signer } = await import('./pkcs11/pkcs11-signer.js');
    return createPkcs11Signer(reference, hash, { warn: options.warn ?? (() => {}) });
  }
  // file:// names a path like a bare one; any other scheme:// is a key service we do not have.
  if (!reference.startsWith('file://') && /^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) {
    throw new SignerError(
      'INVALID_KEY_URI',
      `unsupported key reference ${reference.split('://')[0]}://… (expected a PEM file, a pkcs11: URI or ${KMS_PREFIXES.join(', ')})`,
    );
  }
  const path = reference.startsWith('file://') ? reference.slice('file://'.length) : reference;
  const privateKey = await readOrGenerate(path, options.generate, options.rsaBits);
  return new LocalKeySigner(
    `file:${path}`,
    privateKey,
    hash === 'auto' ? preferredHashFor(privateKey) : hash,
  );
}

async function readOrGenerate(
  path: string,
  generate: GeneratedKeyType | undefined,
  rsaBits = 4096,
): Promise<KeyObject> {
  let pem: string;
  try {
    pem = (await readKeyFile(path)).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && generate)
      return generateKeyFile(path, generate, rsaBits);
    throw new SignerError(
      'KEY_UNREADABLE',
      `cannot read key file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (/ENCRYPTED/.test(pem)) {
    throw new SignerError(
      'KEY_ENCRYPTED',
      `key file ${path} is encrypted: give an unencrypted PEM private key (or a KMS key)`,
    );
  }
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new SignerError(
      'INVALID_KEY',
      `key file ${path} holds no PEM private key: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Writes a new PKCS#8 PEM key, never over an existing file. */
export async function generateKeyFile(
  path: string,
  type: GeneratedKeyType,
  rsaBits = 4096,
): Promise<KeyObject> {
  const { privateKey } = generateKey(type, rsaBits);
  try {
    await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (error) {
    throw new SignerError(
      'KEY_UNREADABLE',
      `cannot write the new key file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return privateKey;
}

function generateKey(type: GeneratedKeyType, rsaBits: number) {
  switch (type) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: rsaBits });
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ecdsa-p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 });
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}
