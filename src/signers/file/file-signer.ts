import { createPublicKey } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import { LocalKeySigner } from '../local-key.js';
import { looseKeyFilePermissions } from './key-file-permissions.js';
import { parsePrivateKeyPem } from './private-key-pem.js';
import { readKeyFile } from './read-key-file.js';
import { SignerError } from '../signer-error.js';
import { CodedError } from '../../errors.js';
import { unopenedSecretFile } from '../../config/secret-file.js';
import { hasSpecifiedCurve } from '../../x509/public-key.js';

const SUPPORTED_KEY_TYPES = new Set(['rsa', 'rsa-pss', 'ec', 'ed25519']);

export interface FileSignerOptions {
  keyPath: string;
  /** Already resolved from --file-signer-passwd or --file-signer-passwd-file. */
  password: string;
  /** 'auto': the digest that suits the key. */
  hash: HashName | 'auto';
  warn: (message: string) => void;
}

/** The file signer: a PEM private key on disk, optionally encrypted (Go's --timestamp-signer=file). */
export async function createFileSigner(options: FileSignerOptions): Promise<LocalKeySigner> {
  const { keyPath } = options;
  if (keyPath === '')
    throw new SignerError(
      'OPTION_MISSING',
      'file: --file-signer-key-path is required with --timestamp-signer=file',
    );
  let file: Buffer;
  try {
    file = await readKeyFile(keyPath);
  } catch (error) {
    // Not opened, the value is not shown: it may be the key itself pasted where its path belongs
    // (option-spec.ts, secretFile). Opened and too large, it is a file: named.
    if (error instanceof SignerError)
      throw new SignerError(error.code, `file: reading key path ${keyPath}: ${error.message}`, {
        cause: error,
      });
    throw new SignerError(
      'KEY_UNREADABLE',
      `file: reading key path ${unopenedSecretFile('file-signer-key-path', error)}`,
      { cause: error },
    );
  }
  let key;
  try {
    key = await parsePrivateKeyPem(file.toString('utf8'), options.password);
  } catch (error) {
    // Our own errors say their message and keep their code (a wrong password is
    // DECRYPTION_FAILED and a missing one KEY_ENCRYPTED, not an unreadable file).
    const reason =
      error instanceof CodedError
        ? error.message
        : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    const code = error instanceof SignerError ? error.code : 'KEY_UNREADABLE';
    throw new SignerError(code, `file: reading key path ${keyPath}: ${reason}`, { cause: error });
  } finally {
    file.fill(0);
  }
  const loose = await looseKeyFilePermissions(keyPath);
  if (loose) options.warn(loose);
  if (!SUPPORTED_KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
    throw new SignerError(
      'UNSUPPORTED_KEY',
      'unsupported private key type, must be RSA, ECDSA, or ED25519',
    );
  }
  if (hasSpecifiedCurve(createPublicKey(key).export({ type: 'spki', format: 'der' }))) {
    throw new SignerError(
      'UNSUPPORTED_KEY',
      `file: ${keyPath} gives its EC curve as explicit parameters, which Go and OpenSSL's verifier ` +
        `refuse (RFC 5480 section 2.1.1): rewrite it with the curve's name, ` +
        `openssl ec -in ${keyPath} -param_enc named_curve -out named-key.pem`,
    );
  }
  try {
    return new LocalKeySigner(`file:${keyPath}`, key, options.hash);
  } catch (error) {
    throw new SignerError(
      'INVALID_KEY',
      `file: provide a valid signer, ${keyPath} is not valid: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
