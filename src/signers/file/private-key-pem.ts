import { createPrivateKey, type KeyObject } from 'node:crypto';
import { decryptSigstoreKey } from './sigstore-encrypted-key.js';
import { SignerError } from '../signer-error.js';

// Blanks may end the BEGIN line (a key pasted into YAML), as Go's encoding/pem and OpenSSL allow.
const BEGIN_LINE = /-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n/g;
const END_LINE = /-----END ([A-Z0-9 ]+)-----/g;

/**
 * The first BEGIN line that has an END line of the same label after it, and its block. One pass
 * over each kind of line: a lazy regex with a back-reference was quadratic in the BEGIN lines
 * without an END (a 300 KB file took two seconds, a megabyte minutes).
 */
function firstPemBlock(pem: string): { block: string; label: string } | undefined {
  const ends = new Map<string, { at: number[]; next: number }>();
  for (const match of pem.matchAll(END_LINE)) {
    const label = match[1] ?? '';
    const list = ends.get(label) ?? { at: [], next: 0 };
    list.at.push(match.index);
    ends.set(label, list);
  }
  for (const match of pem.matchAll(BEGIN_LINE)) {
    const label = match[1] ?? '';
    const list = ends.get(label);
    if (!list) continue;
    const bodyStart = match.index + match[0].length;
    // BEGIN lines come in order, so each label's END positions are passed over once.
    while (list.next < list.at.length && (list.at[list.next] as number) < bodyStart) list.next++;
    const end = list.at[list.next];
    if (end === undefined) continue;
    return { block: pem.slice(match.index, end + `-----END ${label}-----`.length), label };
  }
  return undefined;
}

/** PEM labels Node (OpenSSL) reads itself, with the password for the encrypted ones. */
const OPENSSL_LABELS = new Set([
  'PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
]);
const SIGSTORE_LABELS = new Set(['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY']);

/**
 * The private key in the first PEM block of `pem`, in the formats Go's file signer reads (its
 * pemutil): PKCS#8, PKCS#1, SEC1, legacy encrypted PEM (Proc-Type/DEK-Info), encrypted PKCS#8, and
 * the sigstore/cosign encrypted format. Go refuses a file of several blocks, where this takes the
 * first, and reads OpenSSH's format, which this does not (docs/signers.md). The password never
 * appears in an error.
 */
export async function parsePrivateKeyPem(pem: string, password: string): Promise<KeyObject> {
  const first = firstPemBlock(pem);
  if (!first) throw new SignerError('INVALID_KEY', 'PEM decoding failed');
  const { block, label } = first;
  if (SIGSTORE_LABELS.has(label)) {
    const body = Buffer.from(
      block
        .split(/\r?\n/)
        .filter((line) => !line.startsWith('-----'))
        .join(''),
      'base64',
    );
    // Like Go: a body that is not the JSON envelope is an unencrypted PKCS#8 key.
    const der = body[0] === 0x7b ? await decryptSigstoreKey(body, password) : body;
    try {
      return toKeyObject(() =>
        createPrivateKey({
          key: Buffer.from(der.buffer, der.byteOffset, der.length),
          format: 'der',
          type: 'pkcs8',
        }),
      );
    } finally {
      // The KeyObject holds its own copy; the plaintext PKCS#8 need not outlive it.
      der.fill(0);
      body.fill(0);
    }
  }
  if (!OPENSSL_LABELS.has(label))
    throw new SignerError('UNSUPPORTED_KEY', `unknown private key PEM file type: ${label}`);
  const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,ENCRYPTED/m.test(block);
  if (encrypted && password === '') {
    throw new SignerError(
      'KEY_ENCRYPTED',
      'the key is encrypted: set --file-signer-passwd-file (or --file-signer-passwd)',
    );
  }
  return toKeyObject(
    () =>
      createPrivateKey(
        encrypted
          ? { key: block, format: 'pem', passphrase: password }
          : { key: block, format: 'pem' },
      ),
    encrypted,
  );
}

/**
 * Node's OpenSSL errors are cryptic; say what they mean. A wrong password usually fails the CBC
 * padding ("bad decrypt") but now and then decrypts to garbage that no decoder accepts.
 */
function toKeyObject(create: () => KeyObject, encrypted = false): KeyObject {
  try {
    return create();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (encrypted || /bad decrypt|wrong password|unable to decrypt/i.test(message)) {
      throw new SignerError('DECRYPTION_FAILED', 'decryption failed (wrong password?)', {
        cause: error,
      });
    }
    throw new SignerError('INVALID_KEY', `not a valid private key: ${message}`, { cause: error });
  }
}
