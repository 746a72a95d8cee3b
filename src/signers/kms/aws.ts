import { createPublicKey } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import type { RemoteSignatureApi } from './remote-signer.js';
import { SignerError } from '../signer-error.js';
import { readAnswerCapped } from './answer-cap.js';
import { AWS_KMS_URI, keyUriEndpointProblem, KMS_URI_FORMATS } from '../../config/key-uri.js';
import { checkedAwsEndpointVariable } from './endpoint-override.js';
import { describeServiceError, type ServiceLabel } from './failure-reason.js';
import { type ProviderOptions, serviceLookup } from './provider-options.js';

export interface AwsKmsKey {
  /** `https://host[:port]`, or undefined for the SDK's own choice (region, AWS_ENDPOINT_URL_KMS). */
  endpoint?: string;
  keyId: string;
  /** From a key or alias ARN; else the SDK's default region chain. */
  region?: string;
}

/** Parses `awskms://[ENDPOINT]/<key id | alias/name | key or alias ARN>` as sigstore does. */
export function parseAwsKmsUri(uri: string): AwsKmsKey {
  const match = AWS_KMS_URI.exec(uri);
  const keyId = match?.[2];
  if (!match || !keyId) throw new SignerError('INVALID_KEY_URI', KMS_URI_FORMATS.awskms);
  const key: AwsKmsKey = { keyId };
  if (match[1]) {
    // As --kms-key-resource is checked (keyUriRefusal), for callers that skip that check: a
    // malformed endpoint reached the SDK, credentials and all, and failed only at its first call.
    const problem = keyUriEndpointProblem('awskms', match[1], '--kms-key-resource');
    if (problem !== undefined) throw new SignerError('INVALID_KEY_URI', problem);
    key.endpoint = `https://${match[1]}`;
  }
  const region = /^arn:[^:]+:kms:([a-z0-9-]+):/.exec(keyId)?.[1];
  if (region) key.region = region;
  return key;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<Uint8Array> =>
  typeof (value as AsyncIterable<Uint8Array> | null)?.[Symbol.asyncIterator] === 'function';

const EC_HASHES: Record<string, HashName> = {
  ECC_NIST_P256: 'sha256',
  ECC_NIST_P384: 'sha384',
  ECC_NIST_P521: 'sha512',
};

/** AWS KMS through @aws-sdk/client-kms, with the SDK's default credential chain (env, profile, IRSA...). */
export async function createAwsKmsApi(
  uri: string,
  options: ProviderOptions = {},
): Promise<RemoteSignatureApi> {
  const { KMSClient, DescribeKeyCommand, GetPublicKeyCommand, SignCommand } =
    await import('@aws-sdk/client-kms');
  const key = parseAwsKmsUri(uri);
  const service: ServiceLabel = {
    name: 'AWS KMS',
    override: key.endpoint ? 'the awskms:// URI' : checkedAwsEndpointVariable(key.endpoint),
  };
  const lookup = serviceLookup(options);
  const tls = {
    ...(options.ca ? { ca: options.ca } : {}),
    ...(process.env['AWS_TLS_INSECURE_SKIP_VERIFY'] === '1' ? { rejectUnauthorized: false } : {}),
  };
  const client = new KMSClient({
    ...(key.endpoint ? { endpoint: key.endpoint } : {}),
    ...(key.region ? { region: key.region } : {}),
    // Retries are the remote signer's business: throttling only, within the deadline.
    maxAttempts: 1,
    // The SDK's agents (keep-alive, 50 sockets) with the host resolved one lookup at a time. Options
    // of our own replace the SDK's defaults-mode provider, whose one setting here is a connection
    // timeout (AWS_DEFAULTS_MODE other than legacy, the default): the remote signer's deadline
    // (--kms-timeout) bounds every call, connecting included.
    requestHandler: { httpAgent: { lookup }, httpsAgent: { lookup, ...tls } },
  });
  // The SDK reads an answer whole, however large: read here first, capped (answer-cap.ts). In the
  // deserialize step at low priority, this runs inside the SDK's deserializer, on the raw answer.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown };
      if (isAsyncIterable(response.body)) {
        const call = `AWS KMS ${(context as { commandName?: string }).commandName ?? 'call'}`;
        response.body = await readAnswerCapped(response.body, call, response.statusCode, service);
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'answerSizeCap' },
  );
  let signingAlgorithms: string[] = [];
  let ecHash: HashName | undefined;
  // The key the URI named when the signer started (its ARN). An alias is resolved by AWS on every
  // call: signing with it would follow an UpdateAlias to a key the leaf certificate does not hold.
  let pinnedKeyId: string | undefined;

  return {
    // Read after describeKey (the start-up log): says which key an alias resolved to.
    get id() {
      return pinnedKeyId && pinnedKeyId !== key.keyId
        ? `awskms:${key.keyId} (key ${pinnedKeyId})`
        : `awskms:${key.keyId}`;
    },
    async describeKey(signal) {
      const { KeyMetadata: metadata } = await client.send(
        new DescribeKeyCommand({ KeyId: key.keyId }),
        {
          abortSignal: signal,
        },
      );
      const resolvedKeyId = metadata?.Arn ?? metadata?.KeyId;
      if (!resolvedKeyId)
        throw new SignerError('BAD_ANSWER', 'DescribeKey returned no key ARN or key id');
      if (metadata?.KeyUsage !== 'SIGN_VERIFY') {
        throw new SignerError(
          'KEY_NOT_USABLE',
          `key usage is ${metadata?.KeyUsage ?? 'unknown'}, not SIGN_VERIFY`,
        );
      }
      if (metadata.KeyState !== 'Enabled')
        throw new SignerError('KEY_NOT_USABLE', `key state is ${metadata.KeyState ?? 'unknown'}`);
      const spec = metadata.KeySpec ?? '';
      if (!spec.startsWith('RSA_') && !(spec in EC_HASHES))
        throw new SignerError('UNSUPPORTED_KEY', `unsupported key spec ${spec}`);
      const response = await client.send(new GetPublicKeyCommand({ KeyId: resolvedKeyId }), {
        abortSignal: signal,
      });
      if (!response.PublicKey) throw new SignerError('BAD_ANSWER', 'GetPublicKey returned no key');
      signingAlgorithms = response.SigningAlgorithms ?? metadata.SigningAlgorithms ?? [];
      ecHash = EC_HASHES[spec];
      pinnedKeyId = resolvedKeyId;
      const publicKey = createPublicKey({
        key: Buffer.from(response.PublicKey),
        format: 'der',
        type: 'spki',
      });
      return ecHash ? { publicKey, hash: ecHash } : { publicKey };
    },
    async signDigest(digest, algorithm, signal) {
      // ECDSA keys sign with the curve's hash; RSA keys with the configured hash, PKCS#1 v1.5 unless
      // the leaf certificate restricts the key to PSS (never SigningAlgorithms[0], which is PSS).
      const suffix = algorithm.hash.slice(3);
      const signingAlgorithm = ecHash
        ? `ECDSA_SHA_${suffix}`
        : algorithm.pss
          ? `RSASSA_PSS_SHA_${suffix}`
          : `RSASSA_PKCS1_V1_5_SHA_${suffix}`;
      if (signingAlgorithms.length > 0 && !signingAlgorithms.includes(signingAlgorithm)) {
        throw new SignerError(
          'KEY_NOT_USABLE',
          `the key does not offer ${signingAlgorithm} (it offers ${signingAlgorithms.join(', ')})`,
        );
      }
      if (!pinnedKeyId) throw new SignerError('KEY_NOT_USABLE', 'the key was not read at start');
      const response = await client.send(
        new SignCommand({
          KeyId: pinnedKeyId,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: signingAlgorithm as 'ECDSA_SHA_256',
        }),
        { abortSignal: signal },
      );
      if (!response.Signature) throw new SignerError('BAD_ANSWER', 'Sign returned no signature');
      return response.Signature;
    },
    isThrottling(error) {
      const name = (error as { name?: unknown } | null)?.name;
      const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
        ?.httpStatusCode;
      return name === 'ThrottlingException' || status === 429;
    },
    describeError(error) {
      return describeServiceError(error, service);
    },
    close() {
      client.destroy();
    },
  };
}
