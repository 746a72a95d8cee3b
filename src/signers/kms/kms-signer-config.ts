import { X509Certificate } from 'node:crypto';
import type { RemoteCallLimits, SignerConfig } from '../../config/signer-config.js';
import { loadCertificateChain } from '../../x509/load-certificate-chain.js';
import type { SignerWithChain } from '../signer.js';
import { createKmsSigner } from './create-kms-signer.js';
import type { RemoteCallPolicy } from './remote-signer.js';
import { watchCircuitBreaker } from './remote-signer-metrics.js';
import { SignerError } from '../signer-error.js';

/** The remote-call policy from the --kms-* flags (their bounds are checked by the config layer). */
export function remoteCallPolicyFrom(limits: RemoteCallLimits): RemoteCallPolicy {
  return {
    timeoutMs: limits.timeoutMs,
    maxConcurrency: limits.maxConcurrency,
    maxRetries: limits.maxRetries,
    backoffMs: 50,
    breaker: { threshold: limits.breakerThreshold, cooldownMs: limits.breakerCooldownMs },
  };
}

/**
 * `--timestamp-signer kms`: the remote signer of --kms-key-resource and the chain of
 * --certificate-chain-path. Its circuit breaker is watched by the state gauge; whoever builds the
 * authority guards issuance with it (Signer.unavailableReason). `warn` gets the start-up warnings
 * (a Vault token file others can read).
 */
export async function createKmsSignerWithChain(
  config: Extract<SignerConfig, { kind: 'kms' }>,
  warn: (message: string) => void = () => {},
): Promise<SignerWithChain> {
  if (!config.keyResource)
    throw new SignerError('OPTION_MISSING', '--timestamp-signer kms needs --kms-key-resource');
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
    config.keyResource,
    config.hash,
    remoteCallPolicyFrom(config.limits),
    { warn },
    certifiedKey,
  );
  watchCircuitBreaker(signer.breaker);
  return { signer, chain };
}
