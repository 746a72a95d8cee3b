import { createHash, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HashName } from '../../asn1/algorithms.js';
import { preferredHashFor, signatureAlgorithmFor } from '../../crypto/key-algorithms.js';
import type { AcceptSignature, SignatureAlgorithm, Signer } from '../../crypto/signer.js';
import { sameRsaKey } from '../../x509/public-key.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitCall } from './circuit-breaker.js';
import { deadline, sleep, untilAborted, withDeadline } from '../../deadline.js';
import {
  classifyServiceError,
  SERVICE_FAILURES,
  ServiceErrorSummary,
  type FailureReason,
} from './failure-reason.js';
import { recordSignerFailure, unwatchCircuitBreaker } from './remote-signer-metrics.js';
import { Semaphore } from './semaphore.js';
import { CodedError } from '../../errors.js';
import { MAX_WAITING_SIGNATURES, queueFull } from '../slot-queue.js';

/** What a remote signature API (cloud KMS, Vault transit) offers the TSA. */
export interface RemoteSignatureApi {
  /** For logs; never secret, e.g. "awskms:alias/tsa". */
  readonly id: string;
  /**
   * The key's public key and, when the key fixes them (AWS, GCP, Azure ECDSA; GCP RSA), the digest
   * it signs with and whether an RSA key signs PSS. Read once at start.
   */
  describeKey(
    signal: AbortSignal,
  ): Promise<{ publicKey: KeyObject; hash?: HashName; pss?: boolean }>;
  /**
   * Signs a digest made with `algorithm.hash`: DER ECDSA-Sig-Value, PKCS#1 v1.5 signature, or
   * RSASSA-PSS signature (MGF1 with the same hash, salt of the hash's length) when `algorithm.pss`.
   */
  signDigest(
    digest: Buffer,
    algorithm: SignatureAlgorithm,
    signal: AbortSignal,
  ): Promise<Uint8Array>;
  /** True when the service refused the call because of its rate limits (the only retried error). */
  isThrottling(error: unknown): boolean;
  /**
   * One line for an error of the service's SDK (failure-reason.ts describeServiceError): the
   * service, the HTTP status, a capped excerpt, the endpoint override. Our own coded errors are
   * reported as they are; without it, an SDK's error is too.
   */
  describeError?(error: unknown): string;
  close?(): Promise<void> | void;
}

export interface RemoteCallPolicy {
  /** Deadline of one signature, including waiting for a slot and retries. */
  timeoutMs: number;
  /**
   * Calls in flight at most; further calls wait for a slot (within their deadline), up to
   * `maxWaiting`, and beyond are refused at once.
   */
  maxConcurrency: number;
  /** Calls that may wait for a slot at once (MAX_WAITING_SIGNATURES unless a test says). */
  maxWaiting?: number;
  /** Retries of a throttled call; other errors are never retried. */
  maxRetries: number;
  /** First backoff; doubled per retry, with jitter. */
  backoffMs: number;
  /** The circuit breaker; none when absent. */
  breaker?: CircuitBreakerOptions;
  /**
   * A monotonic clock in ms, for the deadline left (default performance.now); the breaker's too,
   * unless `breaker.now` is given. Tests pass one that follows their fake timers.
   */
  now?: () => number;
}

export const DEFAULT_REMOTE_CALL_POLICY: RemoteCallPolicy = {
  timeoutMs: 5_000,
  maxConcurrency: 32,
  maxRetries: 3,
  backoffMs: 50,
  breaker: { threshold: 5, cooldownMs: 10_000 },
};

/** Why a signature is refused behind a full wait queue (sent to the client: names no key). */
export const REMOTE_SIGNER_QUEUE_FULL =
  'remote signer busy: too many signatures waiting for a free slot';

/** Why a remote signer refused to start or to sign (a failed service call keeps its own error). */
export type RemoteSignerErrorCode =
  | 'KEY_UNREADABLE'
  | 'SCHEME_MISMATCH'
  | 'HASH_MISMATCH'
  | 'UNSUPPORTED_KEY'
  | 'CIRCUIT_OPEN'
  | 'TIMEOUT'
  /** The service's SDK failed the call; the message describes it (RemoteSignatureApi.describeError). */
  | 'SERVICE_FAILED';

export class RemoteSignerError extends CodedError<RemoteSignerErrorCode> {
  override name = 'RemoteSignerError';
}

/** The service did not answer within the deadline. */
export class RemoteSignerTimeout extends RemoteSignerError {
  override name = 'RemoteSignerTimeout';
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options);
  }
}

/** The error of a call that missed its deadline, for withDeadline. */
const timeoutAfter =
  (timeoutMs: number) =>
  (options?: ErrorOptions): RemoteSignerTimeout =>
    new RemoteSignerTimeout(`remote signer did not answer within ${timeoutMs} ms`, options);

/**
 * The remote-signature strategy: hash locally, send the digest, bound every call by a deadline and
 * a concurrency limit, retry only throttling, and stop calling a service that keeps failing (the
 * circuit breaker). Every failure is a rejected promise; the authority answers it with systemFailure.
 */
export class RemoteSigner implements Signer {
  readonly id: string;
  readonly cancellable = true;
  readonly keyOutsideProcess = true;
  readonly breaker: CircuitBreaker;
  private readonly slots: Semaphore;
  /** Calls that may wait for a slot at once. */
  private readonly maxWaiters: number;
  private readonly now: () => number;
  /**
   * Answers the service gave so far (signatures and refusals; not failed connections, nor calls
   * given up): a call that waited for a slot and timed out while this grew met a busy service.
   */
  private answers = 0;

  private constructor(
    private readonly api: RemoteSignatureApi,
    readonly publicKey: KeyObject,
    readonly algorithm: SignatureAlgorithm,
    private readonly policy: RemoteCallPolicy,
  ) {
    this.id = api.id;
    this.slots = new Semaphore(policy.maxConcurrency);
    this.maxWaiters = policy.maxWaiting ?? MAX_WAITING_SIGNATURES;
    this.now = policy.now ?? (() => performance.now());
    this.breaker = new CircuitBreaker({
      now: this.now,
      ...(policy.breaker ?? { threshold: 0, cooldownMs: 0 }),
    });
  }

  /** The circuit breaker's refusal while it is open (the authority refuses issuance meanwhile). */
  unavailableReason(): string | undefined {
    return this.breaker.refusal();
  }

  /** Signatures waiting for a slot now (at most MAX_WAITING_SIGNATURES). */
  get waiting(): number {
    return this.slots.waiting;
  }

  /** The breaker's cool-down left while it is open. */
  unavailableForMs(): number | undefined {
    return this.breaker.refusedForMs;
  }

  /**
   * Reads the key once and checks that it signs with `hash` ('auto': the key's own digest, or the
   * one conventionally paired with it); throws a start-up error if not. `certifiedKey`, the leaf
   * certificate's key, decides the RSA scheme of keys that offer both (AWS, Azure, Vault): an
   * id-RSASSA-PSS key (RFC 4055 section 1.2) holding the same RSA key makes the signer sign PSS,
   * and it becomes the signer's public key.
   */
  static async create(
    api: RemoteSignatureApi,
    requestedHash: HashName | 'auto',
    policy: RemoteCallPolicy = DEFAULT_REMOTE_CALL_POLICY,
    certifiedKey?: KeyObject,
  ): Promise<RemoteSigner> {
    const described = await withDeadline(
      policy.timeoutMs,
      undefined,
      (signal) => api.describeKey(signal),
      timeoutAfter(policy.timeoutMs),
    ).catch((error: unknown) => {
      const described = describedServiceError(api, error);
      throw new RemoteSignerError(
        'KEY_UNREADABLE',
        `${api.id}: cannot read the public key: ${described ?? messageOf(error)}`,
        // A described SDK error is kept as its summary: debug logs print causes, messages whole.
        { cause: described === undefined ? error : new ServiceErrorSummary(error) },
      );
    });
    const certifiedPss =
      certifiedKey?.asymmetricKeyType === 'rsa-pss' &&
      sameRsaKey(certifiedKey, described.publicKey);
    if (certifiedPss && described.pss === false) {
      throw new RemoteSignerError(
        'SCHEME_MISMATCH',
        `${api.id}: the leaf certificate restricts the key to RSASSA-PSS but the KMS key signs PKCS#1 v1.5 only`,
      );
    }
    // openssl ts -verify (PKCS#7) picks the RSA scheme from the certificate's key type, not from
    // the SignerInfo: a PSS token under an rsaEncryption leaf would fail there.
    if (described.pss === true && certifiedKey?.asymmetricKeyType === 'rsa') {
      throw new RemoteSignerError(
        'SCHEME_MISMATCH',
        `${api.id}: the key signs RSASSA-PSS but the leaf certificate's key is rsaEncryption: certify it as id-RSASSA-PSS (RFC 4055)`,
      );
    }
    const publicKey = certifiedPss ? certifiedKey : described.publicKey;
    const hash =
      requestedHash === 'auto' ? (described.hash ?? preferredHashFor(publicKey)) : requestedHash;
    if (described.hash && described.hash !== hash) {
      throw new RemoteSignerError(
        'HASH_MISMATCH',
        `${api.id}: the key signs with ${described.hash.toUpperCase()} but --timestamp-signer-hash is ${hash}; ` +
          `set --timestamp-signer-hash=${described.hash}`,
      );
    }
    let algorithm: SignatureAlgorithm;
    try {
      algorithm = signatureAlgorithmFor(publicKey, hash, {
        pss: described.pss === true || certifiedPss,
      });
    } catch (error) {
      throw new RemoteSignerError('UNSUPPORTED_KEY', `${api.id}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (algorithm.keyType === 'ed25519') {
      throw new RemoteSignerError(
        'UNSUPPORTED_KEY',
        `${api.id}: Ed25519 keys cannot sign a digest; use an ECDSA or RSA key`,
      );
    }
    return new RemoteSigner(api, publicKey, algorithm, policy);
  }

  /**
   * The client's abort (`signal`) ends the wait for a slot and the retries after throttling, not a
   * call already sent: the service's answer, or its silence until the deadline, is still what the
   * breaker learns from (clients that give up before --kms-timeout would otherwise keep a dead
   * service looking alive), and the call keeps its slot meanwhile. `accept` checks the answer before it counts as one (the token's
   * self-check): a signature it refuses is an unusable answer, a failure of the service. A call
   * that timed out after waiting for a slot counts against the service only if it answered no
   * other call meanwhile (see timeoutReason). With every slot taken and MAX_WAITING_SIGNATURES
   * already waiting, it is refused at once, temporarily (`queue_full`).
   */
  async sign(
    data: Uint8Array,
    signal?: AbortSignal,
    accept?: AcceptSignature,
  ): Promise<Uint8Array> {
    // A client already gone takes no slot and calls nothing.
    signal?.throwIfAborted();
    const call = this.breaker.enter();
    if (!call) {
      // Not counted as a failure: the service was not called.
      throw new RemoteSignerError(
        'CIRCUIT_OPEN',
        `${this.id}: ${this.breaker.refusal() ?? 'circuit breaker open'}`,
      );
    }
    const digest = createHash(this.algorithm.hash).update(data).digest();
    const attempt: Attempt = {
      endsAt: this.now() + this.policy.timeoutMs,
      waited: false,
      answersBefore: this.answers,
      ownAnswers: 0,
    };
    let release = this.slots.tryAcquire();
    if (!release && this.slots.waiting >= this.maxWaiters) {
      // Local overload, not the service's: a temporary refusal (503), counted apart.
      call.abandoned();
      recordSignerFailure('queue_full');
      throw queueFull(REMOTE_SIGNER_QUEUE_FULL);
    }
    if (!release) {
      attempt.waited = true;
      try {
        release = await this.waitForSlot(signal);
      } catch (error) {
        this.judge(call, signal?.aborted ? 'aborted' : this.timeoutReason(attempt));
        throw error;
      }
    }
    const outcome = withDeadline(
      Math.max(0, attempt.endsAt - this.now()),
      undefined,
      async (deadline) => {
        const signature = await this.signWithRetries(digest, deadline, attempt, signal);
        if (accept) await accept(signature);
        return signature;
      },
      timeoutAfter(this.policy.timeoutMs),
    ).finally(release);
    outcome.then(
      () => call.answered(),
      (error: unknown) => {
        const reason = this.failureReason(error);
        this.judge(call, reason === 'timeout' ? this.timeoutReason(attempt) : reason);
      },
    );
    const reported = outcome.catch((error: unknown) => {
      const described = describedServiceError(this.api, error);
      throw described === undefined
        ? error
        : new RemoteSignerError('SERVICE_FAILED', `${this.id}: ${described}`, {
            cause: new ServiceErrorSummary(error),
          });
    });
    return signal ? untilAborted(reported, signal) : reported;
  }

  /**
   * Why a call timed out. One that waited for a slot while the service answered others (any,
   * refusals included) was not given its whole deadline by a busy service: `saturated`, local
   * overload that says nothing against the service. One that waited while the service answered
   * none met a hung one (every slot held by a call it does not answer: under steady load every
   * later call waits), and one that never waited had the whole deadline: `timeout`, a failure.
   */
  private timeoutReason(attempt: Attempt): FailureReason {
    const othersAnswered = this.answers - attempt.answersBefore - attempt.ownAnswers;
    return attempt.waited && othersAnswered > 0 ? 'saturated' : 'timeout';
  }

  /** Counts a failed call in the metric and tells the breaker what it says about the service. */
  private judge(call: CircuitCall, reason: FailureReason): void {
    recordSignerFailure(reason);
    if (SERVICE_FAILURES.has(reason)) call.failed();
    else if (reason === 'saturated' || reason === 'aborted') call.abandoned();
    else call.answered(); // a definite refusal (4xx, throttling): the service is up
  }

  /**
   * A slot, once one is free: within --kms-timeout, and until the client gives up. The semaphore
   * passes on a slot granted as its waiter gives up, so none is lost.
   */
  private async waitForSlot(signal: AbortSignal | undefined): Promise<() => void> {
    signal?.throwIfAborted();
    // Not withDeadline: the semaphore itself must see the abort, to pass on a slot granted meanwhile.
    const limit = deadline(
      this.policy.timeoutMs,
      signal,
      () =>
        new RemoteSignerTimeout(
          `${this.id}: no free slot for a remote signature within ${this.policy.timeoutMs} ms (--kms-max-concurrency calls in flight)`,
        ),
    );
    try {
      return await this.slots.acquire(limit.signal);
    } finally {
      limit.clear();
    }
  }

  private failureReason(error: unknown): FailureReason {
    if (error instanceof RemoteSignerTimeout) return 'timeout';
    if (this.api.isThrottling(error)) return 'throttled';
    return classifyServiceError(error);
  }

  /**
   * The signature, retrying throttling after a backoff. A backoff that would not end before the
   * deadline is not started: the throttling is the answer (a timeout instead would count against
   * a service that answered, and open the breaker on a throttling KMS).
   */
  /**
   * Throttled calls are made again, within the deadline (`signal`), while the client is there
   * (`client`): a retry for a client gone would sign for nothing, holding a slot while the
   * service is over its quota. Ended so, the call fails as throttled (the service answered).
   */
  private async signWithRetries(
    digest: Buffer,
    signal: AbortSignal,
    attempt: Attempt,
    client: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    for (let retry = 0; ; retry++) {
      let failure: unknown;
      try {
        return await untilAborted(this.heard(digest, signal, attempt), signal);
      } catch (error) {
        failure = error;
      }
      const retrying =
        !signal.aborted && retry < this.policy.maxRetries && this.api.isThrottling(failure);
      if (!retrying || client?.aborted) throw failure;
      const backoff = this.policy.backoffMs * 2 ** retry;
      const pause = backoff / 2 + Math.random() * (backoff / 2);
      if (this.now() + pause >= attempt.endsAt) throw failure;
      await sleep(pause, client ? AbortSignal.any([signal, client]) : signal).catch(
        (error: unknown) => {
          if (!client?.aborted) throw error;
        },
      );
      if (client?.aborted) throw failure;
    }
  }

  /** One call of the service, counted in `answers` when the service answers it (timeoutReason). */
  private heard(digest: Buffer, signal: AbortSignal, attempt: Attempt): Promise<Uint8Array> {
    const answer = this.api.signDigest(digest, this.algorithm, signal);
    const count = () => {
      this.answers++;
      attempt.ownAnswers++;
    };
    answer.then(count, (error: unknown) => {
      // A failed connection is no answer; nor is the SDK's error for a call given up.
      if (!signal.aborted && classifyServiceError(error) !== 'connection') count();
    });
    return answer;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    unwatchCircuitBreaker(this.breaker);
    await this.api.close?.();
  }
}

/**
 * The provider's description of an error of its SDK, or undefined for our own coded errors (a
 * timeout, a refused key, a token check), which say what they mean, and where it has none.
 */
function describedServiceError(api: RemoteSignatureApi, error: unknown): string | undefined {
  if (error instanceof CodedError || !api.describeError) return undefined;
  return api.describeError(error);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where one signature is, for what its failure says about the service (timeoutReason). */
interface Attempt {
  /** Its deadline on the signer's clock: --kms-timeout from the call, waiting included. */
  endsAt: number;
  /** Whether it waited for a slot. */
  waited: boolean;
  /** The signer's `answers` when it began. */
  answersBefore: number;
  /** Answers to this call itself (a throttled try), which say nothing of the others. */
  ownAnswers: number;
}
