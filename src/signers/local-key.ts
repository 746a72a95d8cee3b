import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { HashName } from '../asn1/algorithms.js';
import {
  nodeSignatureArguments,
  preferredHashFor,
  signatureAlgorithmFor,
  type SignatureOptions,
} from '../crypto/key-algorithms.js';
import type { SignatureAlgorithm, Signer } from '../crypto/signer.js';

/**
 * Keys whose signature costs more than the hop to libuv's thread pool. P-256 and Ed25519 sign in
 * ~20 us, less than the hand-off, so they stay on the event loop; P-384, P-521 and RSA take
 * 200-1,500 us and would block it (docs/performance.md).
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
  readonly keyOutsideProcess = false;
  private readonly digest: string | null;
  private readonly key: ReturnType<typeof nodeSignatureArguments<KeyObject>>[1];
  /** Keys that sign quickly sign on the event loop (signsSlowly); the others have none. */
  readonly signNow: ((data: Uint8Array) => Uint8Array) | undefined;

  /** `hash` 'auto': the digest that suits the key (preferredHashFor). */
  constructor(
    readonly id: string,
    privateKey: KeyObject,
    hash: HashName | 'auto',
    options: SignatureOptions = {},
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.algorithm = signatureAlgorithmFor(
      this.publicKey,
      hash === 'auto' ? preferredHashFor(this.publicKey) : hash,
      options,
    );
    // Ed25519 is PureEdDSA: node takes no digest name for it; PSS takes padding and salt length.
    [this.digest, this.key] = nodeSignatureArguments(this.algorithm, privateKey);
    this.signNow = signsSlowly(this.algorithm)
      ? undefined
      : (data) => cryptoSign(this.digest, data, this.key);
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.signNow) return Promise.resolve(this.signNow(data));
    // The callback form runs on libuv's thread pool, so slow keys use every core.
    return new Promise((resolve, reject) => {
      cryptoSign(this.digest, data, this.key, (error, signature) =>
        error ? reject(error) : resolve(signature),
      );
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
