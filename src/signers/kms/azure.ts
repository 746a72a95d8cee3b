import { createPublicKey, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { Agent } from 'node:https';
import type { KeyClientOptions } from '@azure/keyvault-keys';
import type { HashName } from '../../asn1/algorithms.js';
import { ecdsaRawToDer, RAW_ECDSA_SIGNATURE_LENGTH } from './ecdsa-signature.js';
import { type ProviderOptions, serviceLookup } from './provider-options.js';
import type { RemoteSignatureApi } from './remote-signer.js';
import { SignerError } from '../signer-error.js';
import { readAnswerCapped } from './answer-cap.js';
import {
  describeServiceError,
  MAX_EXCERPT,
  type AnswerSeen,
  type ServiceLabel,
} from './failure-reason.js';
import { AZURE_KMS_URI, keyUriEndpointProblem, KMS_URI_FORMATS } from '../../config/key-uri.js';

/** Parses `azurekms://<vault host>/<key>[/<version>]` (sigstore's rule). */
export function parseAzureKmsUri(uri: string): {
  vaultUrl: string;
  host: string;
  keyName: string;
  version?: string;
} {
  const match = AZURE_KMS_URI.exec(uri);
  if (!match?.[1] || !match[2]) throw new SignerError('INVALID_KEY_URI', KMS_URI_FORMATS.azurekms);
  // As --kms-key-resource is checked (keyUriRefusal), for callers that skip that check.
  const problem = keyUriEndpointProblem('azurekms', match[1], '--kms-key-resource');
  if (problem !== undefined) throw new SignerError('INVALID_KEY_URI', problem);
  const parsed = { vaultUrl: `https://${match[1]}/`, host: match[1], keyName: match[2] };
  return match[3] ? { ...parsed, version: match[3] } : parsed;
}

/** Key Vault domains of the Azure clouds; any other host is an endpoint override (private endpoint, test). */
const KEY_VAULT_DOMAINS =
  /\.(vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net|managedhsm\.azure\.net)$/;

const EC_HASHES: Record<string, HashName> = {
  'P-256': 'sha256',
  'P-384': 'sha384',
  'P-521': 'sha512',
};

/** What onResponse gives of an answer (@azure/core-client's FullOperationResponse). */
interface AzureRawResponse {
  status: number;
  headers: { get(name: string): string | undefined };
  bodyAsText?: string | null;
}

type AdditionalPolicy = NonNullable<KeyClientOptions['additionalPolicies']>[number];

const base64url = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('base64url');

/** A policy of the SDK's pipeline that sends a request through `agent` unless it has one. */
function withAgentUnlessProxied(agent: Agent): AdditionalPolicy {
  return {
    position: 'perRetry', // after the proxy policy
    policy: {
      name: 'agentUnlessProxied',
      sendRequest(request, next) {
        request.agent ??= agent;
        return next(request);
      },
    },
  };
}

/**
 * A policy of the SDK's pipeline that reads each answer itself, capped (answer-cap.ts): its HTTP
 * client reads an answer whole, however large. Every status is asked for as a stream (Infinity,
 * core-rest-pipeline's rule for "all"), then given back as the text the deserializer parses.
 */
function answersCapped(service: ServiceLabel): AdditionalPolicy {
  return {
    position: 'perRetry',
    policy: {
      name: 'answerSizeCap',
      async sendRequest(request, next) {
        const streamed = request.streamResponseStatusCodes;
        request.streamResponseStatusCodes = new Set([Number.POSITIVE_INFINITY]);
        const response = await next(request).finally(() => {
          if (streamed) request.streamResponseStatusCodes = streamed;
          else delete request.streamResponseStatusCodes;
        });
        const body = response.readableStreamBody;
        if (!body || streamed?.has(response.status)) return response;
        const call = `Azure Key Vault ${request.method} ${new URL(request.url).pathname}`;
        response.bodyAsText = (
          await readAnswerCapped(body as AsyncIterable<Uint8Array>, call, response.status, service)
        ).toString('utf8');
        delete response.readableStreamBody;
        return response;
      },
    },
  };
}

/**
 * Azure Key Vault (or Managed HSM) through @azure/keyvault-keys with DefaultAzureCredential
 * (environment, workload identity, managed identity, Azure CLI...). ECDSA signatures come back raw
 * (r || s) and are converted to DER; RSA signs RS256/384/512 (PKCS#1 v1.5) with the configured hash,
 * or PS256/384/512 when the leaf certificate restricts the key to RSASSA-PSS.
 */
export async function createAzureKeyVaultApi(
  uri: string,
  options: ProviderOptions = {},
): Promise<RemoteSignatureApi> {
  const [{ KeyClient, CryptographyClient }, { DefaultAzureCredential }] = await Promise.all([
    import('@azure/keyvault-keys'),
    import('@azure/identity'),
  ]);
  const { vaultUrl, host, keyName, version } = parseAzureKmsUri(uri);
  const credential = new DefaultAzureCredential();
  // A keep-alive agent as the SDK's own, whose host is resolved one lookup at a time. Set per
  // request after the SDK's proxy policy, and only where it set none: not as the `agent` option,
  // which would turn HTTPS_PROXY off (that policy leaves a request with an agent alone).
  const agent = new Agent({
    keepAlive: true,
    lookup: serviceLookup(options),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const keyVaultDomain = KEY_VAULT_DOMAINS.test(host.replace(/:\d+$/, ''));
  const service: ServiceLabel = {
    name: 'Azure Key Vault',
    override: keyVaultDomain ? undefined : 'the azurekms:// host, not an Azure Key Vault domain',
  };
  const clientOptions = {
    // Retries are the remote signer's business: throttling only, within the deadline.
    retryOptions: { maxRetries: 0 },
    disableChallengeResourceVerification: !keyVaultDomain,
    additionalPolicies: [withAgentUnlessProxied(agent), answersCapped(service)],
  };
  const keyClient = new KeyClient(vaultUrl, credential, clientOptions);
  /**
   * The answers SDK errors came from, where the error does not say (a 200 the SDK could not read
   * fails with a TypeError of its own: `Cannot read properties of undefined (reading 'kid')`).
   */
  const answers = new WeakMap<object, AnswerSeen>();
  /** Runs an SDK call with an onResponse that records its answer for the error it may throw. */
  const recorded = async <T>(
    call: (onResponse: (response: AzureRawResponse) => void) => Promise<T>,
  ): Promise<T> => {
    let seen: AnswerSeen | undefined;
    try {
      return await call((response) => {
        seen = {
          status: response.status,
          contentType: response.headers.get('content-type'),
          // Enough for an excerpt; a large body is not kept.
          body: response.bodyAsText?.slice(0, 4 * MAX_EXCERPT) ?? undefined,
        };
      });
    } catch (error) {
      if (seen && typeof error === 'object' && error !== null) answers.set(error, seen);
      throw error;
    }
  };
  let cryptography: InstanceType<typeof CryptographyClient> | undefined;
  let keyType = '';
  /** The raw signature's length on the EC key's curve. */
  let rawEcdsaLength: number | undefined;

  return {
    id: `azurekms:${host}/${keyName}${version ? `/${version}` : ''}`,
    async describeKey(signal) {
      const key = await recorded((onResponse) =>
        keyClient.getKey(keyName, {
          ...(version ? { version } : {}),
          abortSignal: signal,
          onResponse,
        }),
      );
      const jwk = key.key;
      if (!jwk?.kty || !key.id) throw new SignerError('BAD_ANSWER', 'Key Vault returned no key');
      if (key.properties.enabled === false)
        throw new SignerError('KEY_NOT_USABLE', `key ${keyName} is disabled`);
      keyType = jwk.kty.replace(/-HSM$/, '');
      if (keyType !== 'EC' && keyType !== 'RSA')
        throw new SignerError(
          'UNSUPPORTED_KEY',
          `key type ${jwk.kty} cannot sign: use an EC or RSA key`,
        );
      const publicJwk: NodeJsonWebKey =
        keyType === 'EC'
          ? { kty: 'EC', crv: jwk.crv ?? '', x: base64url(jwk.x), y: base64url(jwk.y) }
          : { kty: 'RSA', n: base64url(jwk.n), e: base64url(jwk.e) };
      // Sign with exactly the version read here, even if the key rotates later, at the configured
      // endpoint: a client built from the KeyVaultKey signs at the host of the answer's kid, which
      // a vault writes with its own name, so a private endpoint or front in azurekms:// (the
      // documented host override) would be bypassed, bearer token and all.
      const readVersion = key.properties.version;
      if (key.name !== keyName || !readVersion)
        throw new SignerError('BAD_ANSWER', `Key Vault answered another key than ${keyName}`);
      // The key as read (no second GET, as a client built from an id would make), named at the
      // configured endpoint, where its RemoteCryptographyProvider takes the vault URL from.
      const id = `${vaultUrl}keys/${encodeURIComponent(keyName)}/${encodeURIComponent(readVersion)}`;
      cryptography = new CryptographyClient({ ...key, id }, credential, clientOptions);
      const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' });
      const hash = keyType === 'EC' ? EC_HASHES[jwk.crv ?? ''] : undefined;
      if (keyType === 'EC' && !hash)
        throw new SignerError('UNSUPPORTED_KEY', `unsupported curve ${jwk.crv ?? 'unknown'}`);
      rawEcdsaLength = RAW_ECDSA_SIGNATURE_LENGTH[jwk.crv ?? ''];
      return hash ? { publicKey, hash } : { publicKey };
    },
    async signDigest(digest, algorithm, signal) {
      if (!cryptography) throw new SignerError('KEY_NOT_USABLE', 'key not read yet');
      const bits = algorithm.hash.slice(3);
      const name = keyType === 'EC' ? `ES${bits}` : algorithm.pss ? `PS${bits}` : `RS${bits}`;
      const client = cryptography;
      const result = await recorded((onResponse) =>
        client.sign(name, digest, { abortSignal: signal, onResponse }),
      );
      return keyType === 'EC' ? ecdsaRawToDer(result.result, rawEcdsaLength) : result.result;
    },
    isThrottling(error) {
      return (error as { statusCode?: unknown } | null)?.statusCode === 429;
    },
    describeError(error) {
      const answer = typeof error === 'object' && error !== null ? answers.get(error) : undefined;
      return describeServiceError(error, service, answer);
    },
    close() {
      agent.destroy();
    },
  };
}
