import type { KeyObject } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import {
  DEFAULT_REMOTE_CALL_POLICY,
  RemoteSigner,
  type RemoteCallPolicy,
  type RemoteSignatureApi,
} from './remote-signer.js';
import type { ProviderOptions } from './provider-options.js';
import { SignerError } from '../signer-error.js';
import { KMS_SCHEMES } from '../../config/signer-config.js';

/** The providers by URI scheme; each module (and its SDK) is loaded only when its scheme is used. */
const PROVIDERS: Record<
  (typeof KMS_SCHEMES)[number],
  (uri: string, options: ProviderOptions) => Promise<RemoteSignatureApi>
> = {
  awskms: async (uri, options) => (await import('./aws.js')).createAwsKmsApi(uri, options),
  gcpkms: async (uri) => (await import('./gcp.js')).createGcpKmsApi(uri),
  azurekms: async (uri, options) =>
    (await import('./azure.js')).createAzureKeyVaultApi(uri, options),
  hashivault: async (uri, options) =>
    (await import('./vault.js')).createVaultTransitApi(uri, options),
  openbao: async (uri, options) => (await import('./vault.js')).createVaultTransitApi(uri, options),
};

/**
 * The remote signer for a `--kms-key-resource` URI, its key read and checked against `hash`;
 * `certifiedKey` (the leaf's) chooses RSASSA-PSS for RSA keys (RemoteSigner.create).
 */
export async function createKmsSigner(
  uri: string,
  hash: HashName | 'auto',
  policy: RemoteCallPolicy = DEFAULT_REMOTE_CALL_POLICY,
  options: ProviderOptions = {},
  certifiedKey?: KeyObject,
): Promise<RemoteSigner> {
  const scheme = /^([a-z0-9]+):\/\//.exec(uri)?.[1];
  // Own keys only: "constructor://" must not find Object's.
  const provider =
    scheme && Object.hasOwn(PROVIDERS, scheme)
      ? PROVIDERS[scheme as keyof typeof PROVIDERS]
      : undefined;
  if (!provider) {
    throw new SignerError(
      'INVALID_KEY_URI',
      `unsupported --kms-key-resource ${JSON.stringify(uri)}: use awskms://, gcpkms://, azurekms://, hashivault:// or openbao://`,
    );
  }
  const api = await provider(uri, options);
  try {
    return await RemoteSigner.create(api, hash, policy, certifiedKey);
  } catch (error) {
    await api.close?.();
    throw error;
  }
}
