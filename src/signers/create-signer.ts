import { parseHashName } from '../asn1/algorithms.js';
import type { ServeConfig } from '../config/schema.js';
import { createMemorySigner } from './memory.js';
import { createKmsSignerWithChain } from './kms/kms-signer-config.js';
import type { SignerWithChain } from './signer.js';

/** The configured signer and its certificate chain. */
export async function createSigner(config: ServeConfig): Promise<SignerWithChain> {
  const hash = parseHashName(config.timestampSignerHash);
  switch (config.timestampSigner) {
    case 'memory':
      return createMemorySigner(hash);
    case 'kms':
      return createKmsSignerWithChain(config, hash);
    default:
      throw new Error(`unsupported signer type: ${config.timestampSigner}`);
  }
}
