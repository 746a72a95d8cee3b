import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import {
  signatureAlgorithmFor,
  type HashName,
  type SignatureAlgorithm,
} from '../asn1/algorithms.js';
import type { Signer } from './signer.js';

/**
 * Keys whose signature costs more than the hop to libuv's thread pool. P-256 and Ed25519 sign in
 * ~20 us, less than the hand-off, so they stay on the event loop; P-384, P-521 and RSA take
 * 200-1,500 us and would block it (README, Performance).
 */
function signsSlowly(algorithm: SignatureAlgorithm): boolean {
  return (
    algorithm.keyType === 'rsa' ||
    algorithm.curve === 'secp384r1' ||
    algorithm.curve === 'secp521r1'
  );
}

/**
 * A signer holding its private key in process memory as a KeyObject (made once: passing PEM per
 * call costs ~300 us). Used by the memory, file and Tink signers.
 */
export class LocalKeySigner implements Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: KeyObject;
  private readonly digest: HashName | null;
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
    this.offload = signsSlowly(this.algorithm);
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    if (!this.offload) return Promise.resolve(cryptoSign(this.digest, data, this.privateKey));
    // The callback form runs on libuv's thread pool, so slow keys use every core.
    return new Promise((resolve, reject) => {
      cryptoSign(this.digest, data, this.privateKey, (error, signature) =>
        error ? reject(error) : resolve(signature),
      );
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
