import type { KeyObject } from 'node:crypto';
import type { HashName } from '../asn1/algorithms.js';

export type KeyType = 'ec' | 'rsa' | 'ed25519';

/** How a signer's signatures are made and labelled, fixed for the key's life. */
export interface SignatureAlgorithm {
  keyType: KeyType;
  /** The digest: CMS digestAlgorithm and messageDigest attribute. */
  hash: HashName;
  /** Signature OID, e.g. ecdsa-with-SHA256. */
  oid: string;
  /** DER AlgorithmIdentifier of the signature (RFC 5758, RFC 4055, RFC 8410). */
  identifier: Buffer;
  /** Named curve for EC keys (node name: prime256v1, secp384r1, secp521r1). */
  curve?: string;
  /** RSA keys only: RSASSA-PSS (RFC 4055) instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** RSA keys only: the modulus length in bits. */
  bits?: number;
}

/**
 * Signs for the TSA. Two strategies implement it: a local private key (memory, file, Tink) and a
 * remote signature API (cloud KMS, Vault). The algorithm is fixed for the key's life. The port sits
 * below its users (tsp, x509) and its implementations (signers) so that both point down to it.
 */
export interface Signer extends AsyncDisposable {
  /** For logs; never secret, e.g. "memory" or "awskms:alias/tsa". */
  readonly id: string;
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: KeyObject;
  /**
   * True when the private key lives outside this process (a cloud KMS, Vault, an HSM): its
   * signatures cross a network or a device boundary where they can come back wrong, so the
   * server checks every token by default (--verify-tokens). False for a key held in memory here
   * (memory, file, Tink after unwrapping): OpenSSL checks its RSA-CRT results itself, and a
   * faulty ECDSA signature with a random nonce does not reveal the key (docs/signers.md).
   */
  readonly keyOutsideProcess: boolean;
  /**
   * True when sign() waits on something worth not waiting for (a network call) and stops waiting
   * when its AbortSignal aborts; callers make a signal only then (an AbortController per request
   * costs ~3 us).
   */
  readonly cancellable?: boolean;
  /**
   * Why sign() would be refused right now without trying (a remote signer's open circuit
   * breaker), or undefined. Signers that never refuse up front leave it out.
   */
  unavailableReason?(): string | undefined;
  /**
   * Whether that refusal ends by itself (a breaker's cool-down; a PIN file an operator can fix
   * without a restart), so that clients are told to retry (HTTP 503); false for one that needs a
   * restart or an officer (a locked PIN), answered 500. Absent: every refusal is temporary.
   */
  unavailableIsTemporary?(): boolean;
  /**
   * How long that refusal will last, in ms, where the signer knows (the breaker's cool-down left),
   * so that clients are told when to retry; undefined where it does not (a PIN file to fix).
   */
  unavailableForMs?(): number | undefined;
  /**
   * What a client is told of that refusal where unavailableReason() names what only operators may
   * read (the pkcs11 signer's key URI and PIN file); undefined to tell the reason itself.
   */
  unavailableDetail?(): string | undefined;
  /**
   * Signs `data` (the DER of the signed attributes, or a TBSCertificate) with the algorithm's digest.
   * Returns a DER ECDSA-Sig-Value, a PKCS#1 v1.5 signature, or a raw Ed25519 signature. A signer
   * with a circuit breaker passes its answer to `accept` (the token's self-check) before it counts
   * the call as answered, so signatures that do not verify open the breaker; others ignore it.
   */
  sign(data: Uint8Array, signal?: AbortSignal, accept?: AcceptSignature): Promise<Uint8Array>;
  /**
   * sign() without the promise, present only where signing on the calling thread costs less than
   * handing it off (an in-process P-256 or Ed25519 key, ~25 us). The token path uses it to issue
   * without a promise per step, about 1 us a token (docs/performance.md).
   */
  readonly signNow?: ((data: Uint8Array) => Uint8Array) | undefined;
}

/** Checks a signature just made; rejects (or throws) when it is unusable. */
export type AcceptSignature = (signature: Uint8Array) => Promise<void> | void;
