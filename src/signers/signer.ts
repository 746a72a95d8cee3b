import type { KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '../asn1/algorithms.js';
import type { IssuanceGuard } from '../tsp/authority.js';

/**
 * Signs for the TSA. Two strategies implement it: a local private key (memory, file, Tink) and a
 * remote signature API (cloud KMS, Vault). The algorithm is fixed for the key's life.
 */
export interface Signer extends AsyncDisposable {
  /** For logs; never secret, e.g. "memory" or "awskms:alias/tsa". */
  readonly id: string;
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: KeyObject;
  /**
   * True when sign() waits on something worth cancelling (a network call) and honours its
   * AbortSignal; callers make a signal only then (an AbortController per request costs ~3 us).
   */
  readonly cancellable?: boolean;
  /**
   * Signs `data` (the DER of the signed attributes, or a TBSCertificate) with the algorithm's digest.
   * Returns a DER ECDSA-Sig-Value, a PKCS#1 v1.5 signature, or a raw Ed25519 signature.
   */
  sign(data: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** A signer with the certificate chain (DER, leaf first) whose leaf holds its public key. */
export interface SignerWithChain {
  signer: Signer;
  chain: Buffer[];
  /** Refuse issuance while the signer cannot sign (a remote signer's open circuit breaker). */
  guards?: IssuanceGuard[];
}
