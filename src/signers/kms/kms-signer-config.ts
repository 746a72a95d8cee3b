import { X509Certificate } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import type { ServeConfig } from '../../config/schema.js';
import { loadCertificateChain } from '../../x509/load-certificate-chain.js';
import type { SignerWithChain } from '../signer.js';
import { createKmsSigner } from './create-kms-signer.js';
import { parseDuration } from './duration.js';
import type { RemoteCallPolicy } from './remote-signer.js';
import { watchCircuitBreaker } from './remote-signer-metrics.js';

/** The remote-call policy from the --kms-* flags. */
export function remoteCallPolicyFrom(config: ServeConfig): RemoteCallPolicy {
  if (config.kmsMaxConcurrency < 1) throw new Error('--kms-max-concurrency must be at least 1');
  if (config.kmsBreakerThreshold < 0)
    throw new Error('--kms-breaker-threshold must not be negative');
  return {
    timeoutMs: parseDuration(config.kmsTimeout, 'kms-timeout'),
    maxConcurrency: config.kmsMaxConcurrency,
    maxRetries: config.kmsMaxRetries,
    backoffMs: 50,
    breaker: {
      threshold: config.kmsBreakerThreshold,
      cooldownMs: parseDuration(config.kmsBreakerCooldown, 'kms-breaker-cooldown'),
    },
  };
}

/**
 * `--timestamp-signer kms`: the remote signer of --kms-key-resource and the chain of
 * --certificate-chain-path. Its circuit breaker is watched by the state gauge; whoever builds the
 * authority guards issuance with it (Signer.unavailableReason).
 */
export async function createKmsSignerWithChain(
  config: ServeConfig,
  hash: HashName | 'auto',
): Promise<SignerWithChain> {
  if (!config.kmsKeyResource) throw new Error('--timestamp-signer kms needs --kms-key-resource');
  const chain = await loadCertificateChain(config.certificateChainPath);
  // The leaf's key type chooses PSS for RSA keys that sign both ways; a leaf that does not parse
  // is left to the chain rules.
  let certifiedKey;
  try {
    certifiedKey = chain[0] && new X509Certificate(chain[0]).publicKey;
  } catch {
    certifiedKey = undefined;
  }
  const signer = await createKmsSigner(
    config.kmsKeyResource,
    hash,
    remoteCallPolicyFrom(config),
    {},
    certifiedKey,
  );
  watchCircuitBreaker(signer.breaker);
  return { signer, chain };
}
