import type { HashName } from '../../asn1/algorithms.js';
import type { ServeConfig } from '../../config/schema.js';
import { loadCertificateChain } from '../../x509/load-certificate-chain.js';
import type { SignerWithChain } from '../signer.js';
import { createKmsSigner } from './create-kms-signer.js';
import { parseDuration } from './duration.js';
import type { RemoteCallPolicy } from './remote-signer.js';

/** The remote-call policy from the --kms-* flags. */
export function remoteCallPolicyFrom(config: ServeConfig): RemoteCallPolicy {
  if (config.kmsMaxConcurrency < 1) throw new Error('--kms-max-concurrency must be at least 1');
  return {
    timeoutMs: parseDuration(config.kmsTimeout, 'kms-timeout'),
    maxConcurrency: config.kmsMaxConcurrency,
    maxRetries: config.kmsMaxRetries,
    backoffMs: 50,
  };
}

/** `--timestamp-signer kms`: the remote signer of --kms-key-resource and the chain of --certificate-chain-path. */
export async function createKmsSignerWithChain(
  config: ServeConfig,
  hash: HashName,
): Promise<SignerWithChain> {
  if (!config.kmsKeyResource) throw new Error('--timestamp-signer kms needs --kms-key-resource');
  const chain = await loadCertificateChain(config.certificateChainPath);
  const signer = await createKmsSigner(config.kmsKeyResource, hash, remoteCallPolicyFrom(config));
  return { signer, chain };
}
