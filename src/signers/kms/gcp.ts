import { createPublicKey } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import type { RemoteSignatureApi } from './remote-signer.js';
import { SignerError } from '../signer-error.js';
import { errorCodeOf } from '../../errors.js';
import { endpointFromVariable } from './endpoint-override.js';
import { describeServiceError, type ServiceLabel } from './failure-reason.js';
import { GrpcStatus } from './grpc-status.js';
import { GCP_KMS_URI, KMS_URI_FORMATS } from '../../config/key-uri.js';

/** Parses `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]`. */
export function parseGcpKmsUri(uri: string): { cryptoKey: string; version?: string } {
  const match = GCP_KMS_URI.exec(uri);
  if (!match?.[1]) throw new SignerError('INVALID_KEY_URI', KMS_URI_FORMATS.gcpkms);
  return match[2] ? { cryptoKey: match[1], version: match[2] } : { cryptoKey: match[1] };
}

/** Cloud KMS signing algorithms that give tokens verifiers accept: ECDSA, RSA PKCS#1 v1.5 and PSS. */
const ALGORITHMS: Record<string, { hash: HashName; pss?: boolean }> = {
  EC_SIGN_P256_SHA256: { hash: 'sha256' },
  EC_SIGN_P384_SHA384: { hash: 'sha384' },
  RSA_SIGN_PKCS1_2048_SHA256: { hash: 'sha256', pss: false },
  RSA_SIGN_PKCS1_3072_SHA256: { hash: 'sha256', pss: false },
  RSA_SIGN_PKCS1_4096_SHA256: { hash: 'sha256', pss: false },
  RSA_SIGN_PKCS1_4096_SHA512: { hash: 'sha512', pss: false },
  // Cloud KMS PSS: MGF1 with the same hash, salt of the hash's length (RFC 4055 parameters).
  RSA_SIGN_PSS_2048_SHA256: { hash: 'sha256', pss: true },
  RSA_SIGN_PSS_3072_SHA256: { hash: 'sha256', pss: true },
  RSA_SIGN_PSS_4096_SHA256: { hash: 'sha256', pss: true },
  RSA_SIGN_PSS_4096_SHA512: { hash: 'sha512', pss: true },
};

/** The variable of the Cloud KMS endpoint override. */
const GCP_ENDPOINT_VARIABLE = 'GCP_KMS_ENDPOINT';

/**
 * The client options for GCP_KMS_ENDPOINT: `http://host:port` is a plaintext channel without
 * credentials (emulators, tests); `https://host[:port]` or `host[:port]` keeps TLS and ADC. A
 * value that is not such an address is refused naming the variable, never quoting it.
 */
export async function endpointOptions(
  endpoint: string | undefined,
): Promise<Record<string, string | number | object>> {
  if (!endpoint) return {};
  const url = endpointFromVariable(GCP_ENDPOINT_VARIABLE, endpoint, {
    example: 'kms.example:443, https://kms.example or http://127.0.0.1:8080',
    defaultScheme: 'https',
  });
  const options: Record<string, string | number | object> = {
    apiEndpoint: url.hostname.replace(/^\[|\]$/g, ''),
  };
  if (url.port) options['port'] = Number(url.port);
  if (url.protocol === 'http:') {
    const grpc = await import('@grpc/grpc-js');
    options['sslCreds'] = grpc.credentials.createInsecure();
    options['port'] ??= 80;
  }
  return options;
}

/** Cloud KMS as failed calls' descriptions name it, with GCP_KMS_ENDPOINT when it is set. */
export function gcpServiceLabel(): ServiceLabel {
  return {
    name: 'Cloud KMS',
    override: process.env[GCP_ENDPOINT_VARIABLE] ? GCP_ENDPOINT_VARIABLE : undefined,
  };
}

/** The one method of a grpc-js call that a cancelling interceptor needs. */
interface CancellableGrpcCall {
  cancelWithStatus(code: number, details: string): void;
}

/** The gax call options of `gaxCall`: one attempt, and the interceptor that cancels it. */
export interface GaxCallOptions {
  retry: { retryCodes: number[] };
  otherArgs: { options: { interceptors: unknown[] } };
}

/**
 * Runs one Cloud KMS call that ends when `signal` aborts. The client's public methods return a
 * plain Promise (they end in .then/.catch), so gax's cancel() is out of reach, and gax takes no
 * AbortSignal: a grpc-js call interceptor (call options reach the channel through
 * `otherArgs.options`) holds the gRPC call and cancels it, which resets its HTTP/2 stream. Without
 * it the call ran on to gax's own 60 s timeout after the deadline gave up on it: a freed slot
 * while the service still had the call, and a process that could not exit after a failed start.
 * One attempt (no gax retries): retries are the remote signer's business, within the deadline.
 */
export async function gaxCall<T>(
  signal: AbortSignal | undefined,
  call: (options: GaxCallOptions) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  let cancel: (() => void) | undefined;
  const interceptor = (
    options: unknown,
    nextCall: (options: unknown) => CancellableGrpcCall,
  ): CancellableGrpcCall => {
    const grpcCall = nextCall(options);
    cancel = () => grpcCall.cancelWithStatus(GrpcStatus.CANCELLED, 'cancelled by the caller');
    // The abort may come while gax still waits for its stub, before the call exists.
    if (signal?.aborted) cancel();
    return grpcCall;
  };
  const onAbort = () => cancel?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await call({
      retry: { retryCodes: [] },
      otherArgs: { options: { interceptors: [interceptor] } },
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A Cloud KMS client (gRPC, Application Default Credentials), honouring GCP_KMS_ENDPOINT. It loads
 * the credentials here: left to the first call, a credentials file that does not load rejected a
 * promise nobody handles (the SDK's methods rethrow initialize()'s error), and Node's crash printer
 * showed the JSON line it stopped at, a private key's. The SDK's message may quote the file too,
 * so the error names only what failed (and is not kept as `cause`: debug logs print causes).
 */
export async function createGcpKmsClient() {
  const { KeyManagementServiceClient } = await import('@google-cloud/kms');
  const client = new KeyManagementServiceClient(
    await endpointOptions(process.env[GCP_ENDPOINT_VARIABLE]),
  );
  try {
    await client.initialize();
  } catch (error) {
    // close() waits on the same rejected stub: nothing to close then.
    await client.close().catch(() => undefined);
    throw new SignerError(
      'NO_CREDENTIALS',
      `cannot load Google credentials (${safeErrorKind(error)}): check GOOGLE_APPLICATION_CREDENTIALS or the Application Default Credentials`,
    );
  }
  return client;
}

/** An error's code (ENOENT, EACCES) or class name: never its message, which may quote a file. */
function safeErrorKind(error: unknown): string {
  return errorCodeOf(error) ?? (error instanceof Error ? error.name : typeof error);
}

/** Cloud KMS through @google-cloud/kms (gRPC) with Application Default Credentials. */
export async function createGcpKmsApi(uri: string): Promise<RemoteSignatureApi> {
  const { cryptoKey, version } = parseGcpKmsUri(uri);
  const client = await createGcpKmsClient();
  let versionName = version ? `${cryptoKey}/cryptoKeyVersions/${version}` : '';
  const service = gcpServiceLabel();

  return {
    id: `gcpkms:${cryptoKey}${version ? `/cryptoKeyVersions/${version}` : ''}`,
    async describeKey(signal) {
      if (!versionName) {
        const [versions] = await gaxCall(signal, (options) =>
          client.listCryptoKeyVersions(
            { parent: cryptoKey, filter: 'state=ENABLED', orderBy: 'name desc' },
            options,
          ),
        );
        // Newest enabled version, by number (a name sort would put 9 after 10).
        const newest = versions
          .filter((candidate) => candidate.state === 'ENABLED' && candidate.name)
          .map((candidate) => candidate.name as string)
          .sort((a, b) => Number(b.split('/').at(-1)) - Number(a.split('/').at(-1)))[0];
        if (!newest) throw new SignerError('KEY_NOT_USABLE', `${cryptoKey} has no ENABLED version`);
        versionName = newest;
      }
      const [keyVersion] = await gaxCall(signal, (options) =>
        client.getCryptoKeyVersion({ name: versionName }, options),
      );
      if (keyVersion.state !== 'ENABLED')
        throw new SignerError(
          'KEY_NOT_USABLE',
          `${versionName} is ${String(keyVersion.state)}, not ENABLED`,
        );
      const algorithm = String(keyVersion.algorithm);
      const known = ALGORITHMS[algorithm];
      if (!known) {
        throw new SignerError(
          'UNSUPPORTED_KEY',
          `${algorithm} is not a supported asymmetric signing algorithm (use EC_SIGN_P256/P384, RSA_SIGN_PKCS1_* or RSA_SIGN_PSS_*)`,
        );
      }
      const [publicKey] = await gaxCall(signal, (options) =>
        client.getPublicKey({ name: versionName }, options),
      );
      if (!publicKey.pem) throw new SignerError('BAD_ANSWER', `${versionName} has no public key`);
      return { publicKey: createPublicKey(publicKey.pem), ...known };
    },
    async signDigest(digest, algorithm, signal) {
      const [response] = await gaxCall(signal, (options) =>
        client.asymmetricSign({ name: versionName, digest: { [algorithm.hash]: digest } }, options),
      );
      if (!response.signature)
        throw new SignerError('BAD_ANSWER', 'AsymmetricSign returned no signature');
      return Buffer.from(response.signature as Uint8Array);
    },
    isThrottling(error) {
      return (error as { code?: unknown } | null)?.code === GrpcStatus.RESOURCE_EXHAUSTED; // quota, throttling
    },
    describeError(error) {
      return describeServiceError(error, service);
    },
    async close() {
      await client.close();
    },
  };
}
