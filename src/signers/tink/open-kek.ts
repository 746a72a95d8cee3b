import type { KeyEncryptionKey } from './kek.js';
import { crc32c } from './crc32c.js';
import { GrpcStatus } from '../kms/grpc-status.js';
import { SignerError } from '../signer-error.js';
import { checkedAwsEndpointVariable } from '../kms/endpoint-override.js';
import {
  describeServiceError,
  overrideNote,
  ServiceErrorSummary,
  type ServiceLabel,
} from '../kms/failure-reason.js';
import { CodedError } from '../../errors.js';
import {
  TINK_AWS_KEK_ARN,
  TINK_KEK_URI_FORMATS,
  TINK_VAULT_KEK_URI,
  tinkKekUriProblem,
  withoutUserinfo,
} from '../../config/key-uri.js';

/**
 * The key-encryption key behind a `--tink-key-resource` URI, called exactly as Tink's KMS AEADs
 * call each service (fixtures/tink/README.md section 4):
 * - `gcp-kms://projects/…/cryptoKeys/K`: Cloud KMS Decrypt with CRC32C integrity fields;
 * - `aws-kms://arn:…:key/…` or `…:alias/…`: KMS Decrypt in the ARN's region, EncryptionContext
 *   `{associatedData: hex(AD)}` only when AD is not empty;
 * - `hcvault://host[:port]/{mount}/keys/{name}`: transit decrypt with the legacy `context` field.
 * Endpoint overrides: GCP_KMS_ENDPOINT, AWS_ENDPOINT_URL_KMS, TINK_HCVAULT_ADDR.
 */
export async function openKek(
  uri: string,
  options: { vaultToken?: string },
): Promise<KeyEncryptionKey> {
  const problem = tinkKekUriProblem(uri);
  if (problem)
    throw new SignerError(
      'INVALID_KEY_URI',
      `invalid Tink KEK URI ${kekUriShown(uri)}: ${problem}`,
    );
  if (uri.startsWith('gcp-kms://')) return openGcpKek(uri);
  if (uri.startsWith('aws-kms://')) return openAwsKek(uri);
  if (uri.startsWith('hcvault://')) return openVaultKek(uri, vaultKekToken(options.vaultToken));
  throw new SignerError('INVALID_KEY_URI', 'unsupported Tink KMS key type');
}

/**
 * The KEK URI as errors quote it: credentials before a host (`hcvault://user:password@host/…`,
 * refused by openKek) replaced with `********`, as --print-config masks a secret.
 */
export function kekUriShown(uri: string): string {
  return withoutUserinfo(uri, '********');
}

async function openGcpKek(uri: string): Promise<KeyEncryptionKey> {
  const keyName = uri.slice('gcp-kms://'.length);
  const { createGcpKmsClient, gaxCall, gcpServiceLabel } = await import('../kms/gcp.js');
  const client = await createGcpKmsClient();
  const service = gcpServiceLabel();
  return {
    uri,
    async decrypt(ciphertext, associatedData, signal) {
      // One attempt, as the AWS KEK: --kms-timeout bounds the whole read.
      const [response] = await gaxCall(signal, (options) =>
        client.decrypt(
          {
            name: keyName,
            ciphertext,
            ciphertextCrc32c: { value: crc32c(ciphertext) },
            ...(associatedData.length > 0 ? { additionalAuthenticatedData: associatedData } : {}),
            additionalAuthenticatedDataCrc32c: { value: crc32c(associatedData) },
          },
          options,
        ),
      ).catch((error: unknown) => {
        // Cloud KMS refuses a ciphertext it cannot decrypt with INVALID_ARGUMENT.
        throw kekError(error, service, (code) => code === GrpcStatus.INVALID_ARGUMENT); // a ciphertext it cannot decrypt
      });
      const answered: unknown = response.plaintext;
      // No plaintext (proto3 reads an absent one as empty; a keyset never is): the service's
      // answer is wrong, not the keyset.
      if (!(answered instanceof Uint8Array) || answered.length === 0)
        throw new SignerError(
          'KEK_UNAVAILABLE',
          `Cloud KMS decrypt answered without a plaintext${overrideNote(service)}`,
        );
      // The SDK's own bytes, not a copy: the caller zeroes them once the keyset is read.
      const plaintext = Buffer.from(answered.buffer, answered.byteOffset, answered.byteLength);
      const checksum = response.plaintextCrc32c?.value;
      if (checksum !== undefined && checksum !== null && Number(checksum) !== crc32c(plaintext)) {
        plaintext.fill(0);
        // The answer was damaged on its way, not the keyset.
        throw new SignerError(
          'KEK_UNAVAILABLE',
          `Cloud KMS decrypt: plaintext CRC32C mismatch${overrideNote(service)}`,
        );
      }
      return plaintext;
    },
    async close() {
      await client.close();
    },
  };
}

async function openAwsKek(uri: string): Promise<KeyEncryptionKey> {
  const keyArn = uri.slice('aws-kms://'.length);
  const region = TINK_AWS_KEK_ARN.exec(keyArn)?.[2];
  if (!region)
    throw new SignerError(
      'INVALID_KEY_URI',
      `invalid AWS KMS key URI ${uri}: ${TINK_KEK_URI_FORMATS['aws-kms']}`,
    );
  const service: ServiceLabel = {
    name: 'AWS KMS',
    override: checkedAwsEndpointVariable(undefined),
  };
  const { KMSClient, DecryptCommand } = await import('@aws-sdk/client-kms');
  // One attempt, as the AWS signer: --kms-timeout bounds the whole read, and the SDK's retries
  // (with backoff) would spend it on a KEK that does not answer.
  const client = new KMSClient({ region, maxAttempts: 1 });
  return {
    uri,
    async decrypt(ciphertext, associatedData, signal) {
      const response = await client
        .send(
          new DecryptCommand({
            KeyId: keyArn,
            CiphertextBlob: ciphertext,
            ...(associatedData.length > 0
              ? {
                  EncryptionContext: {
                    associatedData: Buffer.from(associatedData).toString('hex'),
                  },
                }
              : {}),
          }),
          signal ? { abortSignal: signal } : {},
        )
        .catch((error: unknown) => {
          // KMS's refusals of a ciphertext: not its key's (wrong KEK, context), or damaged.
          throw kekError(error, service, (_, name) => AWS_DECRYPT_REFUSALS.has(name));
        });
      if (!response.KeyId || !response.Plaintext) {
        response.Plaintext?.fill(0);
        throw new SignerError(
          'KEK_UNAVAILABLE',
          `AWS KMS Decrypt answered without a KeyId or a Plaintext${overrideNote(service)}`,
        );
      }
      // As Tink: the key that decrypted must be the one a key ARN names. An alias ARN names
      // whichever key the alias points to, and KMS answers with that key's ARN.
      const plaintext = response.Plaintext;
      if (isKeyArn(keyArn) && response.KeyId !== keyArn) {
        plaintext.fill(0);
        throw new SignerError(
          'DECRYPTION_FAILED',
          `AWS KMS decrypted with ${response.KeyId}, not ${keyArn}`,
        );
      }
      // The SDK's own bytes, not a copy: the caller zeroes them once the keyset is read.
      return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    },
    close() {
      client.destroy();
    },
  };
}

/** The Vault token of an hcvault:// KEK and where it was given (for errors; never the token). */
interface VaultKekToken {
  token: string | undefined;
  source: string;
}

/** The token of --tink-hcvault-token (or its file, or its variable), else VAULT_TOKEN. */
function vaultKekToken(option: string | undefined): VaultKekToken {
  if (option === undefined) return { token: process.env['VAULT_TOKEN'], source: 'VAULT_TOKEN' };
  return {
    token: option,
    source: '--tink-hcvault-token, --tink-hcvault-token-file or TINK_HCVAULT_TOKEN',
  };
}

/** Whether `arn` names a key, not an alias (Tink's isKeyArnFormat: `arn:…:…:…:…:key/…`). */
function isKeyArn(arn: string): boolean {
  const parts = arn.split(':');
  return parts.length === 6 && parts[5]!.startsWith('key/');
}

async function openVaultKek(
  uri: string,
  { token, source }: VaultKekToken,
): Promise<KeyEncryptionKey> {
  const match = TINK_VAULT_KEK_URI.exec(uri);
  if (!match?.[1] || !match[2] || !match[3]) {
    throw new SignerError(
      'INVALID_KEY_URI',
      `invalid Vault key URI ${kekUriShown(uri)}: ${TINK_KEK_URI_FORMATS.hcvault}`,
    );
  }
  const { vaultAddress, vaultRequest, vaultTokenProblem } = await import('../kms/vault-client.js');
  // Parsed here, once: a host with user:password@ (or an unparsable address) is refused without
  // being quoted, never handed to fetch, whose error would quote it. The URI's host is checked
  // even when TINK_HCVAULT_ADDR replaces it: errors quote the URI.
  const override = process.env['TINK_HCVAULT_ADDR'];
  let address: string;
  try {
    address = vaultAddress(`https://${match[1]}`, 'the host of the hcvault:// Tink KEK URI');
    if (override) address = vaultAddress(override, 'TINK_HCVAULT_ADDR');
  } catch (error) {
    throw new SignerError('INVALID_KEY_URI', (error as Error).message);
  }
  if (!token)
    throw new SignerError(
      'NO_CREDENTIALS',
      'no Vault token for the Tink KEK: set --tink-hcvault-token or VAULT_TOKEN',
    );
  const problem = vaultTokenProblem(token);
  if (problem)
    throw new SignerError(
      'NO_CREDENTIALS',
      `the Vault token for the Tink KEK (${source}) ${problem}`,
    );
  const connection = { address, token };
  const path = `${match[2]}/decrypt/${match[3]}`;
  const service: ServiceLabel = {
    name: 'Vault',
    override: override ? 'TINK_HCVAULT_ADDR' : undefined,
  };
  return {
    uri,
    async decrypt(ciphertext, associatedData, signal) {
      const data = await vaultRequest(
        connection,
        'PUT',
        path,
        {
          ciphertext: Buffer.from(ciphertext).toString('utf8'),
          context: Buffer.from(associatedData).toString('base64'),
        },
        signal,
      ).catch((error: unknown) => {
        // Transit refuses a ciphertext it cannot decrypt with 400 (`cipher: message
        // authentication failed`, `invalid ciphertext`); a 403 is a token's problem.
        throw kekError(error, service, () => (error as { status?: unknown }).status === 400);
      });
      // Decoded strictly: Buffer.from(…, 'base64') skips what is not base64, and an answer
      // without a plaintext would have read as an empty keyset, blamed on the file.
      const plaintext = data['plaintext'];
      if (typeof plaintext !== 'string' || plaintext === '' || !STRICT_BASE64.test(plaintext))
        throw new SignerError(
          'KEK_UNAVAILABLE',
          `Vault transit decrypt answered without a base64 plaintext${overrideNote(service)}`,
        );
      return Buffer.from(plaintext, 'base64');
    },
  };
}

/** Standard base64 with its padding, as Vault writes it (Go's base64.StdEncoding). */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** AWS KMS's refusals of a ciphertext (Decrypt's errors); KMSInvalidStateException and AccessDenied are not. */
const AWS_DECRYPT_REFUSALS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

/**
 * A KEK call's error as the Tink signer reports it (tink-signer.ts decryptKeyset): the service's
 * refusal to decrypt (`refused` decides, from the gRPC code or the error's name) is
 * DECRYPTION_FAILED, which points at the KEK or the keyset; anything else (unreachable, an error
 * page, a 5xx, no permission) is KEK_UNAVAILABLE, which points at the service. An SDK's error is
 * described on one line (describeServiceError) and kept as its summary (ServiceErrorSummary): its
 * message may be long.
 */
function kekError(
  error: unknown,
  service: ServiceLabel,
  refused: (code: unknown, name: string) => boolean,
): SignerError {
  if (error instanceof SignerError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const name = error instanceof Error ? error.name : '';
  const refusal = refused(code, name);
  const coded = error instanceof CodedError;
  const message = coded
    ? `${error.message}${refusal ? '' : overrideNote(service)}`
    : describeServiceError(error, refusal ? { name: service.name } : service);
  return new SignerError(refusal ? 'DECRYPTION_FAILED' : 'KEK_UNAVAILABLE', message, {
    cause: coded ? error : new ServiceErrorSummary(error),
  });
}
