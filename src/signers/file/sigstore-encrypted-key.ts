import { scrypt } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { SignerError } from '../signer-error.js';

/**
 * The body of an `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` PEM block, as
 * written by cosign and sigstore (secure-systems-lab `encrypted` package):
 *   {"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt": b64},
 *    "cipher": {"name": "nacl/secretbox", "nonce": b64}, "ciphertext": b64}
 * The plaintext is a PKCS#8 private key.
 */
interface SigstoreEncryptedKey {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

// Bounds on what a file may ask of scrypt. Each parameter alone is not enough: N=2^20 with r=32
// is 4 GiB. scrypt needs 128*N*r bytes and 128*N*r*p of work; cosign / securesystemslib write
// N=2^15..2^17 with r=8 and p=1 (32-128 MiB), so allow twice the memory and four times the work of
// the strongest of those (N=2^17, r=8, p=1).
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 256 * 1024 * 1024;
const MAX_WORK = 4 * 128 * (1 << 17) * 8;
const KEY_LENGTH = 32;
const NONCE_LENGTH = 24;

/** Decrypts a sigstore/cosign encrypted key with its password: PKCS#8 DER out. */
export async function decryptSigstoreKey(body: Uint8Array, password: string): Promise<Uint8Array> {
  const encrypted = parseEnvelope(body);
  const { N, r, p } = encrypted.kdf.params;
  const salt = Buffer.from(encrypted.kdf.salt, 'base64');
  const nonce = Buffer.from(encrypted.cipher.nonce, 'base64');
  if (nonce.length !== NONCE_LENGTH)
    throw new SignerError('INVALID_KEY', `encrypted key: nonce must be ${NONCE_LENGTH} bytes`);
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { N, r, p, maxmem: MAX_MEMORY + (1 << 20) },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    ),
  );
  try {
    return xsalsa20poly1305(key, nonce).decrypt(Buffer.from(encrypted.ciphertext, 'base64'));
  } catch {
    throw new SignerError(
      'DECRYPTION_FAILED',
      'encrypted key: decryption failed (wrong password?)',
    );
  } finally {
    // The derived key opens the private key: do not leave it in the heap (or a core dump).
    key.fill(0);
  }
}

function parseEnvelope(body: Uint8Array): SigstoreEncryptedKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new SignerError('INVALID_KEY', 'encrypted key: body is not the sigstore JSON envelope');
  }
  const data = value as Partial<SigstoreEncryptedKey> | null;
  const params = data?.kdf?.params;
  if (data?.kdf?.name !== 'scrypt' || typeof data.kdf.salt !== 'string' || !params) {
    throw new SignerError('UNSUPPORTED_KEY', 'encrypted key: unsupported kdf (want scrypt)');
  }
  if (data.cipher?.name !== 'nacl/secretbox' || typeof data.cipher.nonce !== 'string') {
    throw new SignerError(
      'UNSUPPORTED_KEY',
      'encrypted key: unsupported cipher (want nacl/secretbox)',
    );
  }
  if (typeof data.ciphertext !== 'string')
    throw new SignerError('INVALID_KEY', 'encrypted key: no ciphertext');
  const { N, r, p } = params;
  const isPowerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!isPowerOfTwo || N > MAX_N)
    throw new SignerError(
      'INVALID_KEY',
      `encrypted key: scrypt N must be a power of two up to ${MAX_N}`,
    );
  if (!Number.isInteger(r) || r < 1 || r > MAX_R)
    throw new SignerError('INVALID_KEY', `encrypted key: scrypt r must be 1 to ${MAX_R}`);
  if (!Number.isInteger(p) || p < 1 || p > MAX_P)
    throw new SignerError('INVALID_KEY', `encrypted key: scrypt p must be 1 to ${MAX_P}`);
  if (128 * N * r > MAX_MEMORY)
    throw new SignerError(
      'INVALID_KEY',
      `encrypted key: scrypt N=${N} r=${r} needs ${(128 * N * r) / 2 ** 20} MiB, more than the ${MAX_MEMORY / 2 ** 20} MiB allowed`,
    );
  if (128 * N * r * p > MAX_WORK)
    throw new SignerError(
      'INVALID_KEY',
      `encrypted key: scrypt N=${N} r=${r} p=${p} costs more than ${MAX_WORK / (128 * (1 << 17) * 8)} times N=131072 r=8 p=1`,
    );
  return data as SigstoreEncryptedKey;
}
