import { sign as cryptoSign, type KeyObject, createPublicKey } from 'node:crypto';
import { signatureAlgorithmFor, type HashName, type SignatureAlgorithm } from '../asn1/algorithms.js';
import type { Signer } from './signer.js';

/**
 * A signer holding its private key in process memory as a KeyObject (made once: passing PEM per
 * call costs ~300 us). Used by the memory, file and Tink signers.
 */
export class LocalKeySigner implements Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: KeyObject;
  private readonly digest: HashName | null;
  /** RSA, P-384 and P-521 sign on libuv's thread pool (ARCHITECTURE section 4); P-256 and Ed25519 inline. */
  private readonly offload: boolean;

  constructor(
    readonly id: string,
    private readonly privateKey: KeyObject,
    hash: HashName,
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.algorithm = signatureAlgorithmFor(this.publicKey, hash);
    // Ed25519 is PureEdDSA: node takes no digest name for it.
    this.digest = this.algorithm.keyType === 'ed25519' ? null : hash;
    this.offload =
      this.algorithm.keyType === 'rsa' || (this.algorithm.keyType === 'ec' && this.algorithm.curve !== 'prime256v1');
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    if (!this.offload) return Promise.resolve(cryptoSign(this.digest, data, this.privateKey));
    return new Promise((resolve, reject) =>
      cryptoSign(this.digest, data, this.privateKey, (error, signature) => (error ? reject(error) : resolve(signature))),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
