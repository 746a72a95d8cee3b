import type { Signer } from '../crypto/signer.js';

/** A signer with the certificate chain (DER, leaf first) whose leaf holds its public key. */
export interface SignerWithChain {
  signer: Signer;
  chain: Buffer[];
}
