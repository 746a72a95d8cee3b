import { randomBytes, scryptSync } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { encodePem } from '../../src/x509/pem.js';

/**
 * Writes a PKCS#8 key in the sigstore/cosign encrypted format, following the published format
 * (secure-systems-lab go-securesystemslib `encrypted`, as cosign's generate-key-pair uses it):
 * scrypt(password, salt, N=32768, r=8, p=1) -> 32-byte key; NaCl secretbox (XSalsa20-Poly1305,
 * 24-byte nonce); the JSON envelope base64-encoded in a PEM block.
 */
export function encryptSigstoreKey(
  pkcs8: Uint8Array,
  password: string,
  label = 'ENCRYPTED SIGSTORE PRIVATE KEY',
): string {
  const params = { N: 32768, r: 8, p: 1 };
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(password, salt, 32, { ...params, maxmem: 64 << 20 });
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(pkcs8);
  const envelope = {
    kdf: { name: 'scrypt', params, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return encodePem(label, Buffer.from(JSON.stringify(envelope)));
}
