import type { HashName } from '../../asn1/algorithms.js';
import { LocalKeySigner } from '../local-key.js';
import type { KeyEncryptionKey } from './kek.js';
import { readEncryptedKeyset } from './encrypted-keyset.js';
import { keysetSigningKey, parseKeyset } from './keyset.js';
import { kekUriShown, type openKek as defaultOpenKek } from './open-kek.js';
import { SignerError } from '../signer-error.js';
import { readKeyFile } from '../file/read-key-file.js';
import { CodedError } from '../../errors.js';
import { unopenedSecretFile } from '../../config/secret-file.js';
import { withDeadline } from '../../deadline.js';
import { DEFAULT_REMOTE_CALL_POLICY, RemoteSignerTimeout } from '../kms/remote-signer.js';
import { classifyServiceError } from '../kms/failure-reason.js';

export type OpenKek = typeof defaultOpenKek;

export interface TinkSignerOptions {
  keysetPath: string;
  kekUri: string;
  vaultToken: string;
  hash: HashName | 'auto';
  openKek: OpenKek;
  /** Deadline of opening the KEK and unwrapping the keyset (--kms-timeout; default 5 s). */
  timeoutMs?: number;
}

/** Tink associated data for keysets: tinkey and the Go server always use none. */
const NO_ASSOCIATED_DATA = new Uint8Array(0);

/**
 * The Tink signer: the primary key of a KMS-encrypted Tink keyset, decrypted once at start and
 * then held in memory (Go's --timestamp-signer=tink).
 */
export async function createTinkSigner(options: TinkSignerOptions): Promise<LocalKeySigner> {
  const { keysetPath, kekUri } = options;
  if (keysetPath === '')
    throw new SignerError(
      'OPTION_MISSING',
      'tink: --tink-keyset-path is required with --timestamp-signer=tink',
    );
  if (kekUri === '')
    throw new SignerError(
      'OPTION_MISSING',
      'tink: --tink-key-resource is required with --timestamp-signer=tink',
    );
  let file: Buffer;
  try {
    file = await readKeyFile(keysetPath);
  } catch (error) {
    // Opened (too large, our own error): a file, named; else the value is not shown.
    const named =
      error instanceof CodedError
        ? `${keysetPath}: ${error.message}`
        : unopenedSecretFile('tink-keyset-path', error);
    throw new SignerError('KEY_UNREADABLE', `tink: reading keyset ${named}`, {
      cause: error,
    });
  }
  const ciphertext = tinkStep(keysetPath, () => readEncryptedKeyset(file));
  // A KEK service that never answers must fail start-up (exit 1), not hang it.
  const timeoutMs = options.timeoutMs ?? DEFAULT_REMOTE_CALL_POLICY.timeoutMs;
  const plaintext = await withDeadline(
    timeoutMs,
    undefined,
    async (signal) => {
      const kek = await options.openKek(
        kekUri,
        options.vaultToken === '' ? {} : { vaultToken: options.vaultToken },
      );
      try {
        return await decryptKeyset(kek, ciphertext, keysetPath, signal);
      } finally {
        await kek.close?.();
      }
    },
    (errorOptions) =>
      new RemoteSignerTimeout(
        `tink: keyset ${keysetPath}: the KEK ${kekUriShown(kekUri)} did not answer within ${timeoutMs} ms (--kms-timeout)`,
        errorOptions,
      ),
  );
  let key;
  try {
    key = tinkStep(keysetPath, () => keysetSigningKey(parseKeyset(plaintext)));
  } finally {
    // Zeroed here: the cleartext keyset, every key's private material (from AWS and Cloud KMS,
    // the SDK's own answer bytes, which the KEK hands over uncopied); keyset.ts zeroes its own
    // copies of a private key. Not wiped, as nothing here can: the KeyObject's copy in OpenSSL's
    // memory (for as long as the signer lives), those of the KeyObjects made only to check the
    // other keys (until collected), and the answers as received (AWS's and Vault's JSON text,
    // whose base64 plaintext is a JS string, and Cloud KMS's gRPC message).
    plaintext.fill(0);
  }
  return tinkStep(keysetPath, () => new LocalKeySigner(`tink:${keysetPath}`, key, options.hash));
}

async function decryptKeyset(
  kek: KeyEncryptionKey,
  ciphertext: Uint8Array,
  path: string,
  signal: AbortSignal,
): Promise<Uint8Array> {
  try {
    return await kek.decrypt(ciphertext, NO_ASSOCIATED_DATA, signal);
  } catch (error) {
    const scheme = kek.uri.split('://')[0] ?? 'the KEK';
    const message = error instanceof Error ? error.message : String(error);
    // Only a refusal to decrypt says something of the KEK or the keyset; a service that could
    // not be reached, or answered an error page or a 5xx, says nothing of either.
    if (!isDecryptionRefusal(error))
      throw new SignerError(
        'KEK_UNAVAILABLE',
        `tink: keyset ${path}: cannot reach or use the ${scheme}:// KEK: ${message}`,
        { cause: error },
      );
    throw new SignerError(
      'DECRYPTION_FAILED',
      `tink: keyset ${path}: decryption failed with the ${scheme}:// KEK (wrong KEK, a keyset written with associated data, or a damaged file): ${message}`,
      { cause: error },
    );
  }
}

/**
 * Whether a KEK's error is its refusal to decrypt. The KEKs of open-kek.ts say so by their code
 * (DECRYPTION_FAILED, else KEK_UNAVAILABLE); another KEK's (a test's fake-kms://) error counts as
 * one unless it is a failed connection or a server's failure.
 */
function isDecryptionRefusal(error: unknown): boolean {
  if (error instanceof CodedError) return error.code === 'DECRYPTION_FAILED';
  const reason = classifyServiceError(error);
  return reason !== 'connection' && reason !== 'server_error';
}

function tinkStep<T>(path: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw new SignerError('INVALID_KEY', `tink: keyset ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
