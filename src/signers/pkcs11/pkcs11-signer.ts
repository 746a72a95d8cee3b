import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import type { HashName } from '../../asn1/algorithms.js';
import { HASHES } from '../../asn1/algorithms.js';
import { SERVE_OPTIONS } from '../../config/schema.js';
import { octetString, sequence } from '../../asn1/der.js';
import { preferredHashFor, signatureAlgorithmFor } from '../../crypto/key-algorithms.js';
import type { AcceptSignature, SignatureAlgorithm, Signer } from '../../crypto/signer.js';
import { sameRsaKey } from '../../x509/public-key.js';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitCall,
} from '../kms/circuit-breaker.js';
import { settledWithin, untilAborted, withDeadline } from '../../deadline.js';
import { ecdsaRawToDer } from '../kms/ecdsa-signature.js';
import { recordSignerFailure, unwatchCircuitBreaker } from '../kms/remote-signer-metrics.js';
import { Semaphore } from '../kms/semaphore.js';
import { MAX_WAITING_SIGNATURES, queueFull } from '../slot-queue.js';
import { CKF_SERIAL_SESSION, CKG_MGF1, CKM, TOKEN_GONE } from './pkcs11-constants.js';
import {
  closeUncounted,
  Pkcs11Connection,
  SESSION_RETRY_MS,
  type ConnectionContext,
} from './pkcs11-connection.js';
import { Pkcs11CallError, Pkcs11Error, type Pkcs11ErrorCode } from './pkcs11-error.js';
import { TokenDiscovery } from './pkcs11-discovery.js';
import { publicKeyFromAttributes } from './pkcs11-key.js';
import {
  acquireModule,
  answered,
  errorName,
  reinitialize,
  releaseModule,
  track,
  type Handle,
  type LoadedModule,
  type LoadModule,
} from './pkcs11-module.js';
import type { SignMechanism } from './pkcs11-host.js';
import { parsePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri.js';
import type { PinGate } from './pin-gate.js';
import { NOT_ASKED, TokenLogin, type GateWait } from './pkcs11-login.js';
import { NOT_OFFERED, PinKeeper, readPin } from './pkcs11-pin.js';

export interface Pkcs11SignerOptions {
  /** Sessions (so signatures in flight) at most; more signatures wait for one, up to `maxWaiting`. */
  maxSessions?: number;
  /** Signatures that may wait for a session at once (MAX_WAITING_SIGNATURES unless a test says). */
  maxWaiting?: number;
  /** Deadline of one signature, waiting for a session included (--pkcs11-timeout). */
  timeoutMs?: number;
  /** The circuit breaker that closes /readyz while the token is gone; none when absent. */
  breaker?: CircuitBreakerOptions;
  /** The leaf certificate's key: an id-RSASSA-PSS one holding the HSM's RSA key makes it sign PSS. */
  certifiedKey?: KeyObject | undefined;
  /** Warnings: a PIN in the URI at start-up; later, the module's process stopping by itself. */
  warn?: (message: string) => void;
  /** How the module is loaded (tests inject faults). */
  loadModule?: LoadModule;
  /**
   * While the token refuses the PIN, how often (at most) unavailableReason() reads the PIN file
   * again to see whether it changed (default 1 s; tests pass 0).
   */
  pinRecheckMs?: number;
  /**
   * While a reconnection finds the token but no key to use (see unavailableReason), how often (at
   * most) unavailableReason() tries another (default 1 s; tests pass 0).
   */
  keyRecheckMs?: number;
  /** Signing threads of the module's process at most, if this signer loads it (tests). */
  maxSigningThreads?: number;
  /** A monotonic clock in ms, for how long the session pool stays capped (tests give a fake). */
  now?: () => number;
  /**
   * Where PIN offers are shared with the other signers that log in to the token (a server's other
   * keys on it, a cluster's other workers): one offers at a time, and a PIN the token refused one
   * of them is not offered again (pin-gate.ts).
   */
  pinGate?: PinGate;
  /**
   * How long a reconnection may take as a whole before it is given up and the next signature
   * starts another (default RECONNECT_TIMEOUTS × timeoutMs; tests give less).
   */
  reconnectTimeoutMs?: number;
}

/** Why a signature is refused behind a full wait queue (sent to the client: names no key). */
export const PKCS11_QUEUE_FULL =
  'PKCS#11 signer busy: too many signatures waiting for a free session';

/**
 * What clients are told while the token refuses the PIN, or while the key cannot be used: the
 * reasons themselves name the key, the token and the PIN file, for /readyz and the log only.
 */
export const PKCS11_PIN_REFUSED = 'signer unavailable: the HSM refused the PIN';
export const PKCS11_KEY_UNUSABLE = 'signer unavailable: its key cannot be used on the HSM';

/** --pkcs11-max-sessions' and --pkcs11-timeout's defaults, for a signer not given them (tests). */
const DEFAULT_MAX_SESSIONS = SERVE_OPTIONS.pkcs11MaxSessions.default;
const DEFAULT_TIMEOUT_MS = SERVE_OPTIONS.pkcs11Timeout.default;

/**
 * Opens the key of a `pkcs11:` URI (RFC 7512): loads the module, finds the token, logs in once,
 * finds the private key and derives the signature algorithm from its attributes.
 */
export async function createPkcs11Signer(
  uriText: string,
  hash: HashName | 'auto',
  options: Pkcs11SignerOptions = {},
): Promise<Pkcs11Signer> {
  const uri = parsePkcs11Uri(uriText);
  if (uri.pinValue !== undefined) {
    options.warn?.(
      `${uri.display}: the PIN is in the PKCS#11 URI (pin-value); prefer pin-source=file:/path/to/pin`,
    );
  }
  // Read before the module is loaded: a PIN file that cannot be read stops start-up first.
  const pin = await readPin(uri, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const module = await acquireModule(uri.modulePath, {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    warn: options.warn,
    load: options.loadModule,
    maxSigningThreads: options.maxSigningThreads,
  });
  const signer = new Pkcs11Signer(uri, module, options);
  try {
    await signer.open(hash, options.certifiedKey, pin);
    return signer;
  } catch (error) {
    await signer[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Signs with a private key in a PKCS#11 token. The digest is computed here; the token signs it
 * (CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS) or, for Ed25519, the data itself
 * (CKM_EDDSA). One session per signature in flight, up to `maxSessions`, all under one login. The
 * module is called in a process of its own (pkcs11-host.ts), never on the event loop; each
 * signature in flight has a thread of its own there (at most MAX_SIGNING_THREADS per module: more
 * wait for one, within their deadline). A token error (removed, session or handle
 * gone) fails the signatures in flight, feeds the circuit breaker, and the next signature admitted
 * reopens everything: module, token (found again by its URI attributes: slots may be renumbered),
 * login (with the PIN read again; one the token refused is not offered again until it changes),
 * key. A signature not made within `timeoutMs` fails (TIMEOUT) and feeds the breaker too,
 * unless it had to wait for a session (a busy HSM, not one gone: see sign); a module call cannot be
 * stopped, so a hung token keeps busy at most `maxSessions` sessions and
 * their threads, or the module's thread for other calls, until the call has been unanswered twice
 * `timeoutMs`: then the module counts as stuck, its process is killed (its sessions fail as a token
 * gone) and the next signature admitted starts it again.
 */
export class Pkcs11Signer implements Signer {
  readonly id: string;
  /** The key is in the HSM: tokens are checked by default (--verify-tokens), as for a KMS. */
  readonly keyOutsideProcess = true;
  /** A client that goes away leaves the queue for a session (see sign). */
  readonly cancellable = true;
  readonly breaker: CircuitBreaker;
  algorithm!: SignatureAlgorithm;
  publicKey!: KeyObject;
  private readonly slots: Semaphore;
  private readonly timeoutMs: number;
  private readonly maxSessions: number;
  private readonly maxWaiting: number;
  private readonly warn: ((message: string) => void) | undefined;
  private connection: Pkcs11Connection | undefined;
  private reconnection: Reconnection | undefined;
  private spki: Buffer | undefined;
  private signatureLength = 0;
  private mechanism: SignMechanism = { mechanism: 0 };
  private disposed = false;
  /** The module's generation in which the token last failed this signer (see reinitialize). */
  private failedGeneration = 0;
  /** This signer's work that holds the module's handles: disposing waits for it. */
  private readonly working = new Set<Promise<unknown>>();

  /** The PIN read at each connection, and the one the token refused (pkcs11-pin.ts). */
  private readonly pins: PinKeeper;
  /** The last reconnection reached the token but found no key to use (see unavailableReason). */
  private unusable: Unusable | undefined;
  private readonly keyRecheckMs: number;
  /** Logs in at each connection, through the PIN gate (pkcs11-login.ts). */
  private readonly tokenLogin: TokenLogin;
  private readonly now: () => number;
  private readonly reconnectTimeoutMs: number;
  /** Finds the token, the key and its public parts (pkcs11-discovery.ts). */
  private readonly discovery: TokenDiscovery;
  /** What its connections need of it (pkcs11-connection.ts). */
  private readonly connectionContext: ConnectionContext;

  constructor(
    private readonly uri: Pkcs11Uri,
    private readonly module: LoadedModule,
    options: Pkcs11SignerOptions,
  ) {
    this.id = uri.display;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxWaiting = options.maxWaiting ?? MAX_WAITING_SIGNATURES;
    this.slots = new Semaphore(this.maxSessions);
    this.warn = options.warn;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? (() => performance.now());
    // On the signer's clock unless given its own, as the remote signer's.
    this.breaker = new CircuitBreaker({
      now: this.now,
      ...(options.breaker ?? { threshold: 0, cooldownMs: 0 }),
    });
    // The digests' key: random, this signer's own, or its PIN gate's (shared with the gate's).
    this.pins = new PinKeeper(
      uri,
      this.id,
      options.pinGate?.key ?? randomBytes(32),
      this.timeoutMs,
      options.pinRecheckMs ?? DEFAULT_PIN_RECHECK_MS,
      () => this.disposed,
    );
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? RECONNECT_TIMEOUTS * this.timeoutMs;
    this.keyRecheckMs = options.keyRecheckMs ?? DEFAULT_KEY_RECHECK_MS;
    this.connectionContext = {
      module,
      id: this.id,
      maxSessions: this.maxSessions,
      now: this.now,
      warn: this.warn,
      wrap: (error, name) => this.wrap(error, name),
    };
    this.tokenLogin = new TokenLogin({
      module,
      uri,
      id: this.id,
      pins: this.pins,
      gate: options.pinGate,
      timeoutMs: this.timeoutMs,
      answered: (call, name) => this.answered(call, name),
      wrap: (error, name) => this.wrap(error, name),
    });
    this.discovery = new TokenDiscovery(
      module,
      uri,
      this.id,
      (call, name) => this.answered(call, name),
      (error, name) => this.wrap(error, name),
    );
  }

  /**
   * Why a signature would fail now: a PIN the token refused (until the PIN file changes: reading it
   * again is started here, at most every `pinRecheckMs`, since nothing else would while issuance
   * is refused); a key the last reconnection did not find, or could not use, on a token that
   * answered (deleted, replaced, no PIN for it: until a reconnection, tried here at most every
   * `keyRecheckMs`, finds it; every signature would fail meanwhile, whatever the breaker, which
   * may be disabled); else the breaker's refusal. Each names the key (and the PIN file): clients
   * are told unavailableDetail().
   */
  unavailableReason(): string | undefined {
    const refused = this.pins.refusedPin;
    if (refused) {
      this.pins.recheckPin(refused);
      return refused.message;
    }
    const unusable = this.unusable;
    if (unusable) {
      this.recheckKey(unusable);
      return unusable.message;
    }
    return this.breaker.refusal();
  }

  /**
   * What a client is told of unavailableReason(): a fixed text for a refused PIN or an unusable key
   * (their reasons name the key, the token and the PIN file); the breaker's own, which names none.
   */
  unavailableDetail(): string | undefined {
    if (this.pins.refusedPin) return PKCS11_PIN_REFUSED;
    return this.unusable ? PKCS11_KEY_UNUSABLE : undefined;
  }

  /**
   * The breaker's cool-down left; for an unusable key, the interval of the reconnections tried;
   * unknown for a refused PIN (it lasts until the file is fixed).
   */
  unavailableForMs(): number | undefined {
    if (this.pins.refusedPin) return undefined;
    return this.unusable ? this.keyRecheckMs : this.breaker.refusedForMs;
  }

  /**
   * Tries a reconnection (none under way, at most every `keyRecheckMs`): once it finds the key, the
   * signer is available again (connectAgain forgets `unusable`), with the session it opened.
   */
  private recheckKey(unusable: Unusable): void {
    if (this.disposed || unusable.checking || this.reconnection) return;
    const now = performance.now();
    if (unusable.checkedAt !== 0 && now - unusable.checkedAt < this.keyRecheckMs) return;
    unusable.checking = true;
    unusable.checkedAt = now;
    this.reconnect()
      .connected.catch(() => {}) // still unusable (connectAgain says why), or another failure
      .finally(() => (unusable.checking = false));
  }

  /**
   * Whether the refusal ends without a restart: the breaker's does, and a PIN_INCORRECT read from a
   * PIN file (an operator fixes the file); a locked or expired PIN, or a `pin-value` in the URI,
   * does not.
   */
  unavailableIsTemporary(): boolean {
    const refused = this.pins.refusedPin;
    return (
      refused === undefined ||
      (refused.code === 'PIN_INCORRECT' && this.uri.pinSource !== undefined)
    );
  }

  /** Connects, reads the key and fixes the algorithm (the start-up step of createPkcs11Signer). */
  async open(
    requestedHash: HashName | 'auto',
    certifiedKey: KeyObject | undefined,
    pin: string | undefined,
  ): Promise<void> {
    const attributes = await this.whenSettled(async () => {
      const connection = await this.connect(pin);
      const session = connection.takeIdle();
      if (!session) throw new Pkcs11Error('TOKEN_UNAVAILABLE', `${this.id}: no session`);
      try {
        return await this.discovery.keyAttributes(session, connection.key);
      } catch (error) {
        throw this.wrap(error, 'C_FindObjects');
      } finally {
        connection.giveBack(session);
      }
    });
    const hsmKey = publicKeyFromAttributes(attributes, this.id);
    const certifiedPss =
      certifiedKey?.asymmetricKeyType === 'rsa-pss' && sameRsaKey(certifiedKey, hsmKey);
    this.publicKey = certifiedPss ? certifiedKey : hsmKey;
    this.spki = hsmKey.export({ type: 'spki', format: 'der' });
    const hash = requestedHash === 'auto' ? preferredHashFor(this.publicKey) : requestedHash;
    try {
      this.algorithm = signatureAlgorithmFor(this.publicKey, hash, { pss: certifiedPss });
    } catch (error) {
      throw new Pkcs11Error('KEY_UNSUPPORTED', `${this.id}: ${errorName(error)}`, { cause: error });
    }
    this.mechanism = this.mechanismFor(this.algorithm);
    this.signatureLength = signatureLengthOf(this.algorithm);
  }

  private mechanismFor(algorithm: SignatureAlgorithm): SignMechanism {
    switch (algorithm.keyType) {
      case 'ec':
        return { mechanism: CKM.ECDSA };
      case 'ed25519':
        return { mechanism: CKM.EDDSA };
      case 'rsa':
        if (!algorithm.pss) return { mechanism: CKM.RSA_PKCS };
        return {
          mechanism: CKM.RSA_PKCS_PSS,
          parameter: {
            type: 'CK_PARAMS_RSA_PSS',
            hashAlg: { sha256: CKM.SHA256, sha384: CKM.SHA384, sha512: CKM.SHA512 }[algorithm.hash],
            mgf: CKG_MGF1[algorithm.hash],
            saltLen: HASHES[algorithm.hash].length,
          },
        };
    }
  }

  /** What C_Sign gets: the digest, a DigestInfo for PKCS#1 v1.5, the data itself for EdDSA. */
  private signInput(data: Uint8Array): Buffer {
    if (this.algorithm.keyType === 'ed25519') return Buffer.from(data);
    const digest = createHash(this.algorithm.hash).update(data).digest();
    if (this.algorithm.keyType === 'rsa' && !this.algorithm.pss) {
      return sequence(HASHES[this.algorithm.hash].identifierWithNull, octetString(digest));
    }
    return digest;
  }

  /**
   * Signs within `timeoutMs`, waiting for a session included. The breaker learns only from the
   * token: a signature that timed out after waiting for a session or thread while the token
   * answered others (any key's of the module: the HSM busy, not gone) or whose client went away
   * before the token was asked (`signal`: it leaves the queue) is abandoned (reason "saturated" or
   * "aborted"), as for a remote signer, and so is one whose reconnection was held by the PIN gate
   * (reason "timeout": the token was not asked); one that timed out while the token answered none is a
   * failure, waited or not (a token that stopped answering holds every session: under load, every
   * later signature waits for one). A client that goes away once the token was asked gets its
   * answer at once; the signature still runs to its end, which the breaker learns from. `accept`
   * (the token's self-check) sees the signature before it counts as answered: one it refuses feeds
   * the breaker (reason "other"), and the connection is dropped, so that the next signature finds
   * the key again and checks it is still the certified one.
   */
  async sign(
    data: Uint8Array,
    signal?: AbortSignal,
    accept?: AcceptSignature,
  ): Promise<Uint8Array> {
    if (this.disposed) throw this.closedError();
    signal?.throwIfAborted();
    // Every session busy and the wait queue full: refused at once, not held against the token.
    if (this.slots.waiting >= this.maxWaiting) {
      recordSignerFailure('queue_full');
      throw queueFull(PKCS11_QUEUE_FULL);
    }
    const call = this.breaker.enter();
    if (!call) {
      throw new Pkcs11Error(
        'TOKEN_UNAVAILABLE',
        `${this.id}: ${this.breaker.refusal() ?? 'circuit breaker open'}`,
      );
    }
    const input = this.signInput(data);
    const attempt: Attempt = {
      waiting: 0,
      waited: false,
      refused: false,
      signAnswersBefore: this.module.signAnswers,
      reconnecting: undefined,
      atGate: false,
    };
    const outcome = withDeadline(
      this.timeoutMs,
      undefined,
      async (deadline) => {
        const [raw, connection] = await this.signInSession(input, deadline, signal, attempt);
        const signature = this.algorithm.keyType === 'ec' ? ecdsaRawToDer(raw) : raw;
        try {
          await accept?.(signature);
        } catch (error) {
          attempt.refused = true;
          this.drop(connection, { reinitialize: false });
          throw error;
        }
        return signature;
      },
      (options) => this.timeoutError(attempt, options),
    ).then(
      (signature) => {
        call.answered();
        return signature;
      },
      (caught: unknown) => {
        throw this.failure(caught, attempt, call, signal);
      },
    );
    return signal ? untilAborted(outcome, signal) : outcome;
  }

  private closedError(): Pkcs11Error {
    return new Pkcs11Error('TOKEN_UNAVAILABLE', `${this.id}: the signer is closed`);
  }

  /** What a failed signature tells the breaker and the metric; the error its caller gets. */
  private failure(
    caught: unknown,
    attempt: Attempt,
    call: CircuitCall,
    signal: AbortSignal | undefined,
  ): unknown {
    if (attempt.refused) {
      // An unusable answer: the accept's own error.
      recordSignerFailure('other');
      call.failed();
      return caught;
    }
    if (signal?.aborted && caught === signal.reason) {
      // Gone before the token was asked: nothing learnt about it.
      recordSignerFailure('aborted');
      call.abandoned();
      return caught;
    }
    const error = this.wrap(caught);
    if (attempt.atGate || NOT_ASKED.has(error)) {
      // Its reconnection waited for the PIN gate (a cluster's primary, another signer's login)
      // until its deadline: the token was not asked, so nothing is learnt about it.
      recordSignerFailure('timeout');
      call.abandoned();
      return error;
    }
    if (error.code === 'PIN_INCORRECT' || error.code === 'PIN_LOCKED') {
      if (NOT_OFFERED.has(error)) {
        // The PIN was not offered to the token: nothing learnt about it.
        call.abandoned();
        return error;
      }
      // A definite refusal: the token answered (the refusal makes the signer unavailable).
      recordSignerFailure('client_error');
      call.answered();
      return error;
    }
    if (
      error.code === 'TIMEOUT' &&
      attempt.waited &&
      this.module.signAnswers > attempt.signAnswersBefore
    ) {
      // Not given its whole deadline after waiting for a session or thread, while the token
      // answered others: a busy HSM, not one gone. (One that answered nothing the whole deadline
      // is not answering, however long this one waited: under steady load every signature waits.)
      recordSignerFailure('saturated');
      call.abandoned();
      return error;
    }
    recordSignerFailure(failureReason(error));
    call.failed();
    return error;
  }

  /** The deadline's error: the signature's, or the wait's when it never got to the token. */
  private timeoutError(attempt: Attempt, options?: ErrorOptions): Pkcs11Error {
    // Read at the deadline: where its reconnection is then decides what the breaker learns.
    attempt.atGate = attempt.reconnecting?.atGate ?? false;
    const what =
      attempt.waiting > 0
        ? `no session free for a signature within ${this.timeoutMs} ms (--pkcs11-max-sessions signatures in flight)`
        : attempt.atGate
          ? `no signature within ${this.timeoutMs} ms (its reconnection waits for the PIN gate to admit the login)`
          : `no signature within ${this.timeoutMs} ms`;
    return new Pkcs11Error('TIMEOUT', `${this.id}: ${what}`, options);
  }

  /**
   * Resolves with what `acquire` waits for (a session slot, an idle session...), within `deadline`
   * and until the client goes away (`signal`); the attempt counts as one that waited.
   */
  private async waitFor<T>(
    attempt: Attempt,
    deadline: AbortSignal,
    signal: AbortSignal | undefined,
    acquire: (until: AbortSignal) => Promise<T>,
  ): Promise<T> {
    attempt.waited = true;
    attempt.waiting++;
    try {
      return await acquire(signal ? AbortSignal.any([deadline, signal]) : deadline);
    } finally {
      attempt.waiting--;
    }
  }

  /**
   * Takes a session slot, waiting for one until `deadline` aborts or the client goes away, and
   * signs in the module's current generation: a signature that finds the module re-initialized
   * under it (by another signer of the same module) goes again in the new one. Resolves with the
   * signature and the connection that made it.
   */
  private async signInSession(
    input: Buffer,
    deadline: AbortSignal,
    signal: AbortSignal | undefined,
    attempt: Attempt,
  ): Promise<[Buffer, Pkcs11Connection]> {
    const release =
      this.slots.tryAcquire() ??
      (await this.waitFor(attempt, deadline, signal, (until) => this.slots.acquire(until)));
    try {
      for (;;) {
        // A reconnection now would start a module process nothing stops.
        if (this.disposed) throw this.closedError();
        // Never while tracked: a re-initialization waits for the tracked work. Waited for within
        // the deadline: the slot is given back then, however long the reconnection takes.
        const connection =
          this.current() ?? (await this.reconnected(attempt, untilOf(deadline, signal)));
        // Nobody waits for this signature any more: the token is not asked.
        deadline.throwIfAborted();
        signal?.throwIfAborted();
        const signature = await this.track(
          this.signWith(connection, input, deadline, signal, attempt),
        );
        if (signature) return [signature, connection];
      }
    } finally {
      release();
    }
  }

  /**
   * Signs in a session of `connection`, or answers undefined when the connection is not current
   * (the module was re-initialized, maybe while the session was being opened). A C_Sign that
   * outlives the deadline is left to finish: the token is still using its session, so the session
   * and its slot are given back only when C_Sign returns.
   */
  private async signWith(
    connection: Pkcs11Connection,
    input: Buffer,
    deadline: AbortSignal,
    signal: AbortSignal | undefined,
    attempt: Attempt,
  ): Promise<Buffer | undefined> {
    // Checked as the work starts: a re-initialization begun since waits for no work begun after.
    if (!connection.current) return undefined;
    let session: Handle | undefined;
    try {
      session =
        connection.takeIdle() ?? (await this.newSession(connection, deadline, signal, attempt));
      // None: the connection went while this one waited for a session, or lost its last.
      if (session === undefined) return undefined;
      let thread = this.module.signingThreads.tryAcquire();
      if (!thread) {
        try {
          thread = await this.waitFor(attempt, deadline, signal, (until) =>
            this.module.signingThreads.acquire(until),
          );
        } catch (error) {
          // Not used: the session goes back as it was.
          connection.giveBack(session);
          session = undefined;
          throw error;
        }
      }
      if (!connection.current || deadline.aborted || signal?.aborted) {
        // The session is kept for the next signature (or forgotten with its generation); opening
        // it, or waiting for a thread, outlived the deadline, its client or its generation: the
        // token is not asked.
        thread();
        connection.giveBack(session);
        session = undefined;
        deadline.throwIfAborted();
        signal?.throwIfAborted();
        return undefined;
      }
      let raw: Buffer;
      try {
        raw = await this.cSign(session, connection.key, input);
      } finally {
        // Its thread is free once C_Sign returns, not at the deadline.
        thread();
      }
      connection.giveBack(session);
      session = undefined;
      return raw;
    } catch (caught) {
      // The client went away: its own reason, as sign() reports it (see failure).
      if (signal?.aborted && caught === signal.reason) throw caught;
      const error = this.wrap(caught);
      if (error.code === 'TOKEN_UNAVAILABLE') this.drop(connection);
      else if (session && connection.current) {
        // The failed session (its state unknown) is closed once a new one is opened (or could
        // not be): closing the last session would log the token out and invalidate the key
        // handle. Waited for within a deadline of its own, since the slot is held meanwhile.
        const failed = session;
        session = undefined;
        const replacing = connection.openSession().then(
          (replacement) => {
            // Closed first: the replacement (maybe late) then counts against the pool's size.
            connection.closeSession(failed);
            connection.keepOpened(replacement);
          },
          () => connection.closeSession(failed), // the next signature finds out what is wrong
        );
        await settledWithin([replacing], this.timeoutMs);
      }
      throw error;
    } finally {
      if (session) connection.closeSession(session);
    }
  }

  /**
   * A session for a signature that found none idle: a new one, or, once the token has refused one
   * (CKR_SESSION_COUNT) while the connection holds some, the next of those given back, waited for
   * within the deadline like a session slot: a partition out of sessions makes signatures queue for
   * the sessions the signer has, not fail (nor feed the breaker). Undefined when there is none to
   * wait for (see Pkcs11Connection.idleSession).
   */
  private async newSession(
    connection: Pkcs11Connection,
    deadline: AbortSignal,
    signal: AbortSignal | undefined,
    attempt: Attempt,
  ): Promise<Handle | undefined> {
    const { cappedAt } = connection;
    if (
      cappedAt === undefined ||
      connection.sessions === 0 ||
      this.now() - cappedAt >= SESSION_RETRY_MS
    ) {
      // Capped: this signature asks again, those that come meanwhile wait for a session.
      if (cappedAt !== undefined) connection.cappedAt = this.now();
      try {
        const session = await connection.openSessionUntil(untilOf(deadline, signal));
        connection.cappedAt = undefined; // the token gives sessions again: the pool grows
        return session;
      } catch (error) {
        const outOfSessions =
          error instanceof Pkcs11Error && errorName(error.cause) === 'CKR_SESSION_COUNT';
        if (!outOfSessions || connection.sessions === 0 || !connection.current) throw error;
        connection.cap();
      }
    }
    return this.waitFor(attempt, deadline, signal, (until) => connection.idleSession(until));
  }

  /** C_SignInit, then C_Sign, in the module's process (counted in signAnswers once answered). */
  private async cSign(session: Handle, key: Handle, input: Buffer): Promise<Buffer> {
    try {
      const raw = await this.module.calls.sign(
        session,
        this.mechanism,
        key,
        input,
        this.signatureLength,
      );
      this.module.signAnswers++;
      return raw;
    } catch (error) {
      // A CKR_ of the token is an answer; its process stopping is none.
      const stopped = error instanceof Pkcs11CallError && error.code === 'HOST_STOPPED';
      if (!stopped) this.module.signAnswers++;
      throw error;
    }
  }

  /** `work`, waited for by a re-initialization of the module and by dispose. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.working.add(work);
    const done = () => this.working.delete(work);
    work.then(done, done);
    return track(this.module, work);
  }

  /** A Pkcs11Error for what a module call (`name`, C_Sign unless said) failed with. */
  private wrap(error: unknown, name = 'C_Sign'): Pkcs11Error {
    if (error instanceof Pkcs11Error) return error;
    if (error instanceof Pkcs11CallError && error.code === 'HOST_STOPPED') {
      // Like a token gone: the next signature admitted loads the module in a new process.
      return new Pkcs11Error('TOKEN_UNAVAILABLE', `${this.id}: ${error.message}`, { cause: error });
    }
    const reason = errorName(error);
    if (TOKEN_GONE.has(reason)) {
      return new Pkcs11Error(
        'TOKEN_UNAVAILABLE',
        `${this.id}: the token is unavailable (${reason})`,
        { cause: error },
      );
    }
    return new Pkcs11Error('SIGN_FAILED', `${this.id}: ${name} failed (${reason})`, {
      cause: error,
    });
  }

  /**
   * The connection to sign with, if there is one: one of an older generation (the module was
   * re-initialized, by another signer of it, or its process replaced) is forgotten with its
   * sessions, never closed: their handles may name another signer's sessions now. So is one whose
   * module process stopped while idle (a crash, a kill): the signature about to be made starts a
   * new one instead of failing on the dead one.
   */
  private current(): Pkcs11Connection | undefined {
    const { connection } = this;
    if (!connection) return undefined;
    if (connection.generation === this.module.generation && !this.module.calls.stopped) {
      return connection;
    }
    this.connection = undefined;
    this.failedGeneration = connection.generation;
    connection.retire('forget');
    return undefined;
  }

  /**
   * Forgets a connection whose token went away (its sessions are closed, best effort): the next
   * signature re-initializes the module, unless told not to (the token answered, but with a
   * signature the self-check refused: finding the key again is enough).
   */
  private drop(connection: Pkcs11Connection, { reinitialize = true } = {}): void {
    if (this.connection !== connection) {
      // Dropped already, maybe without re-initializing (a refused self-check): a token error of
      // its generation, seen since, still re-initializes the module at the next reconnection.
      if (reinitialize && connection.generation === this.module.generation) {
        this.failedGeneration = connection.generation;
      }
      return;
    }
    this.connection = undefined;
    this.failedGeneration = reinitialize ? connection.generation : NO_FAILED_GENERATION;
    connection.retire('close');
  }

  /**
   * After a token error: re-initialize the module (unless another of its signers did since this
   * one saw the error), then find everything again. One at a time per signer.
   */
  private reconnect(): Reconnection {
    if (this.reconnection) return this.reconnection;
    const progress: GateWait = { atGate: false };
    // Within a deadline as a whole: one stuck anywhere is given up (its late result too: see
    // connect), and the next signature starts another, instead of every signature waiting on it.
    const connected = withDeadline(
      this.reconnectTimeoutMs,
      undefined,
      (abandoned) => this.connectAgain(abandoned, progress),
      (options) => {
        const error = new Pkcs11Error(
          'TIMEOUT',
          `${this.id}: no reconnection within ${this.reconnectTimeoutMs} ms`,
          options,
        );
        if (progress.atGate) NOT_ASKED.add(error);
        return error;
      },
    ).finally(() => {
      if (this.reconnection === reconnection) this.reconnection = undefined;
    });
    const reconnection: Reconnection = { connected, progress };
    this.reconnection = reconnection;
    return reconnection;
  }

  /** The reconnection's connection, waited for until `until` aborts (see timeoutError). */
  private async reconnected(attempt: Attempt, until: AbortSignal): Promise<Pkcs11Connection> {
    const { connected, progress } = this.reconnect();
    attempt.reconnecting = progress;
    try {
      return await untilAborted(connected, until);
    } finally {
      attempt.reconnecting = undefined;
    }
  }

  private async connectAgain(
    abandoned: AbortSignal,
    progress: GateWait,
  ): Promise<Pkcs11Connection> {
    // Read again (it may have been changed since), and refused without asking the token when it
    // is the PIN the token refused: offered at each reconnection, it would lock the user out.
    // Neither that nor the token's refusal of a PIN says anything about the module.
    const pin = await this.pins.pinToOffer();
    try {
      abandoned.throwIfAborted();
      await reinitialize(this.module, this.failedGeneration, this.timeoutMs);
      const connection = await this.whenSettled(() => this.connect(pin, abandoned, progress));
      this.unusable = undefined;
      return connection;
    } catch (error) {
      // A login the PIN gate did not admit in time, or a reconnection given up, says nothing of
      // the module or the key now (the next reconnection's failures do).
      if ((error instanceof Error && NOT_ASKED.has(error)) || abandoned.aborted) throw error;
      // Only the module's failures re-initialize it (C_Finalize ends every session of every key
      // on it): a token gone or not found (many modules see a returned token only after
      // C_Initialize), an answer not given in time, a device error. Not a PIN refused, nor a key
      // the token answered it does not hold or cannot use.
      if (!(error instanceof Pkcs11Error) || !NOT_THE_MODULE.has(error.code)) {
        this.failedGeneration = this.module.generation;
      }
      // The token answered that the key is not there, or not usable: so will it until someone
      // mends it, and issuance is refused meanwhile (a breaker may be disabled).
      this.unusable =
        error instanceof Pkcs11Error && UNUSABLE.has(error.code)
          ? { message: error.message, checking: false, checkedAt: performance.now() }
          : undefined;
      throw error;
    }
  }

  /**
   * Starts `work` (tracked) once no re-initialization of the module is under way (begun by another
   * of its signers, maybe since this one's), with no turn of the event loop between the check and
   * the start: handles got before a C_Finalize would otherwise pass for the new generation's, and a
   * re-initialization begun later waits for the work. Never from tracked work (a deadlock).
   */
  private async whenSettled<T>(work: () => Promise<T>): Promise<T> {
    while (this.module.restarting) await this.module.restarting.catch(() => {});
    return this.track(work());
  }

  /**
   * Finds the token and key and logs in; the session it used stays in the pool. The generation it
   * records is the one when it starts (see whenSettled). Once `abandoned` aborts (a reconnection
   * given up), it makes no connection: another may have been made since; nor once the signer is
   * closed.
   */
  private async connect(
    pin: string | undefined,
    abandoned?: AbortSignal,
    progress?: GateWait,
  ): Promise<Pkcs11Connection> {
    // Given up while it waited for the module's re-initialization: it asks the module nothing.
    abandoned?.throwIfAborted();
    const { calls } = this.module;
    const generation = this.module.generation;
    const slot = await this.discovery.findSlot();
    // Without a PIN, the key of a token that requires a login is visible only while another key's
    // login holds the token: until the module is initialized again, for ever unfound then.
    if (pin === undefined && (await this.discovery.loginRequired(slot))) {
      throw new Pkcs11Error(
        'PIN_MISSING',
        `${this.id}: the token requires a login (CKF_LOGIN_REQUIRED) and the URI gives no PIN: add pin-source=file:/path/to/pin`,
      );
    }
    let session: Handle;
    try {
      const opening = calls.C_OpenSession(slot, CKF_SERIAL_SESSION);
      session = await this.answered(opening, 'C_OpenSession').catch((error: unknown) => {
        // Not answered in time: the session it opens later is closed, not lost.
        void opening.then(
          (late) => closeUncounted(this.module, late, generation),
          () => {},
        );
        throw error;
      });
    } catch (error) {
      throw this.wrap(error, 'C_OpenSession');
    }
    try {
      // A reconnection given up offers no PIN: the next one offers it, once.
      abandoned?.throwIfAborted();
      await this.tokenLogin.login(session, slot, generation, pin, progress);
      const key = await this.discovery.findKey(session);
      if (this.spki) {
        // After a reconnection: the same key must be found, not a new one under the same label.
        const now = publicKeyFromAttributes(
          await this.discovery.keyAttributes(session, key),
          this.id,
        );
        if (!now.export({ type: 'spki', format: 'der' }).equals(this.spki)) {
          throw new Pkcs11Error(
            'KEY_NOT_FOUND',
            `${this.id}: the token is back but the key found is not the certified one`,
          );
        }
      }
      abandoned?.throwIfAborted();
      // Closed meanwhile: dispose has already closed the pool, and another signer may keep the
      // module initialized, so a session pooled now would stay open for as long as it does.
      if (this.disposed) throw this.closedError();
      const connection = new Pkcs11Connection(
        slot,
        key,
        generation,
        session,
        this.connectionContext,
      );
      // Never one before it (one reconnection at a time), but one would keep its sessions open.
      this.connection?.retire('close');
      this.connection = connection;
      // Re-initialized meanwhile: current() forgets it, and the signature goes again.
      return connection;
    } catch (error) {
      closeUncounted(this.module, session, generation);
      // TokenLogin names its own refusals: what is left failed finding or reading the key.
      throw this.wrap(error, 'C_FindObjects');
    }
  }

  /**
   * A module call other than a signature, or a TIMEOUT once it has not been answered within the
   * deadline (a module call cannot be stopped: it keeps the module's process until it returns, or
   * is stuck).
   */
  private answered<T>(call: Promise<T>, name: string): Promise<T> {
    return answered(call, name, this.id, this.timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    unwatchCircuitBreaker(this.breaker);
    const { connection } = this;
    this.connection = undefined;
    connection?.retire('close');
    // C_Finalize under a running C_Sign is undefined behaviour: signatures past their deadline get
    // one deadline more, and a module still signing after that is left loaded.
    if (!(await settledWithin([...this.working], this.timeoutMs))) return;
    await releaseModule(this.module, this.timeoutMs);
  }
}

export const DEFAULT_PIN_RECHECK_MS = 1_000;
export const DEFAULT_KEY_RECHECK_MS = 1_000;

/**
 * Errors of a reconnection that say nothing is wrong with the module (connectAgain): the token
 * answered about the PIN or the key, or the token was never asked (the PIN file, the URI). Every
 * other failure re-initializes the module before the next reconnection, as before: a network HSM
 * may need C_Initialize again after a device error.
 */
const NOT_THE_MODULE: ReadonlySet<Pkcs11ErrorCode> = new Set<Pkcs11ErrorCode>([
  'PIN_INCORRECT',
  'PIN_LOCKED',
  'PIN_SOURCE',
  'URI_INVALID',
  'KEY_NOT_FOUND',
  'KEY_AMBIGUOUS',
  'KEY_UNSUPPORTED',
  'PIN_MISSING',
]);

/**
 * Errors of a reconnection in which the token answered that the key is not there or cannot be
 * used: the signer is unavailable until a reconnection finds it (see unavailableReason).
 */
const UNUSABLE: ReadonlySet<Pkcs11ErrorCode> = new Set<Pkcs11ErrorCode>([
  'KEY_NOT_FOUND',
  'KEY_AMBIGUOUS',
  'KEY_UNSUPPORTED',
  'PIN_MISSING',
]);

/** A key a reconnection did not find, or could not use; a reconnection tried since (recheckKey). */
interface Unusable {
  /** The reconnection's error. */
  message: string;
  checking: boolean;
  checkedAt: number;
}

/**
 * A reconnection's deadline as a whole, in --pkcs11-timeout: it makes some fifteen module calls
 * (each within the deadline; a slow HSM takes a fraction of it for each), reads the PIN file and
 * may wait for the module's re-initialization and the PIN gate.
 */
export const RECONNECT_TIMEOUTS = 8;

/** The signature's deadline, and its client going away when there is one. */
function untilOf(deadline: AbortSignal, signal: AbortSignal | undefined): AbortSignal {
  return signal ? AbortSignal.any([deadline, signal]) : deadline;
}

/** Where a signature is (see Pkcs11Signer.sign). */
interface Attempt {
  /** Waits under way (a session slot, an idle session): the deadline fires before the token. */
  waiting: number;
  /**
   * Whether it waited at all: a timeout then says the HSM is busy, not that it is gone, if the
   * token made signatures meanwhile (see Pkcs11Signer.failure).
   */
  waited: boolean;
  /** The module's signAnswers when it began. */
  signAnswersBefore: number;
  /** Whether `accept` refused the signature. */
  refused: boolean;
  /** The reconnection it waits for, if it does. */
  reconnecting: GateWait | undefined;
  /** Whether its deadline found that reconnection waiting for the PIN gate (see failure). */
  atGate: boolean;
}

/** A reconnection under way, shared by the signatures that wait for it (see reconnect). */
interface Reconnection {
  connected: Promise<Pkcs11Connection>;
  progress: GateWait;
}

/**
 * A failed generation no module has: reinitialize() then re-initializes only a module whose last
 * (re-)initialization failed.
 */
const NO_FAILED_GENERATION = -1;

/** The metric's reason for a failed signature. */
function failureReason(error: Pkcs11Error): 'timeout' | 'connection' | 'server_error' {
  if (error.code === 'TIMEOUT') return 'timeout';
  const gone = error.code === 'TOKEN_UNAVAILABLE' || error.code === 'TOKEN_NOT_FOUND';
  return gone ? 'connection' : 'server_error';
}

/** Room for the signature: r||s of the curve, the modulus length, or 64 bytes for Ed25519. */
function signatureLengthOf(algorithm: SignatureAlgorithm): number {
  if (algorithm.keyType === 'ed25519') return 64;
  if (algorithm.keyType === 'rsa') return Math.ceil((algorithm.bits ?? 4096) / 8);
  const field = { prime256v1: 32, secp384r1: 48, secp521r1: 66 }[algorithm.curve ?? ''] ?? 66;
  return 2 * field;
}
