import { toHex } from '../asn1/der.js';
import { CodedError } from '../errors.js';
import { signerGuard, type IssuanceGuard } from './guards.js';
import { parseJsonTimeStampReq } from './json-request.js';
import { reject, TimeStampRejection, type FailInfoName } from './rejection.js';
import {
  checkTimeStampReq,
  parseTimeStampReq,
  type AcceptedRequest,
  type RequestPolicy,
  type TimeStampReq,
} from './request.js';
import { encodeRejection } from './response.js';
import { createSerialNumberSource } from './serial-number.js';
import type { TimeSourceSnapshot } from './time-source.js';
import {
  TokenEncoder,
  TokenSignatureError,
  type TokenFields,
  type TokenProfile,
} from './token-encoder.js';

/** How the request is encoded: an RFC 3161 TimeStampReq, or the Go server's JSON request. */
export type RequestFormat = 'der' | 'json';

/** A token was issued (and recorded, where a record step was given). */
export interface GrantedOutcome {
  status: 'granted';
  /** The TimeStampResp carrying the token. */
  der: Buffer;
  /** Hex. */
  serialNumber: string;
  genTime: Date;
  request: AcceptedRequest;
  /** The clock's evidence when the token was issued (absent without clock monitoring). */
  timeSource?: TimeSourceSnapshot;
  /** The profile that issued it, in a server with named profiles. */
  profile?: string;
  /** The TSAPolicyId TLV the token carries (the request's, else the profile's default). */
  policy?: Uint8Array;
}

/** The TSA refused the request, or could not grant it. */
export interface RejectionOutcome {
  status: 'rejection';
  failInfo: FailInfoName;
  /** Fixed text (never client input): the Go server's message. */
  message: string;
  /** A fixed, more precise reason. */
  detail?: string;
  /** The TimeStampResp with status rejection. */
  der: Buffer;
  /** Present once the request parsed and passed the policy. */
  request?: AcceptedRequest;
  /** The underlying error of a systemFailure, for the log only. */
  cause?: unknown;
  /**
   * A systemFailure because something the TSA depends on is unavailable for now (the ledger
   * database, a signer's open circuit breaker): the same request should succeed later, and the
   * caller tells the client to retry. See TimeStampRejection.temporary.
   */
  temporary?: true;
  /** For a temporary one, how long it is expected to last (ms), where known. */
  retryInMs?: number;
  /** The profile that refused it, in a server with named profiles. */
  profile?: string;
}

/** What one request produced: plain facts; how to answer them is the caller's business. */
export type IssueOutcome = GrantedOutcome | RejectionOutcome;

export interface IssueContext {
  /** Aborts a remote signing call (the client went away); see Signer.cancellable. */
  signal?: AbortSignal;
  /**
   * Makes a granted token durable before it is handed out (the audit log, the ledger). A token
   * whose record fails is withheld: the outcome turns into systemFailure. A record step that
   * throws a RecordError SERIAL_NUMBER_TAKEN gets a new token with a new serial number instead;
   * one that throws a TimeStampRejection (a token the ledger cannot hold) refuses the request so.
   */
  record?: (granted: GrantedOutcome) => Promise<void>;
}

/** What a record step says of a token it did not keep, besides its code and message. */
export interface RecordErrorOptions {
  cause?: unknown;
  /** Its store is unavailable or busy for now (an outage, a full queue): the refusal is too. */
  temporary?: boolean;
  /** For a temporary one, how long it is expected to last (ms), where known. */
  retryInMs?: number;
  /**
   * A fixed reason the client is told (the TimeStampResp's second statusString): never a
   * database's or the disk's own words. Default 'token could not be recorded'.
   */
  detail?: string;
}

/**
 * Thrown by a record step. SERIAL_NUMBER_TAKEN: a shared record (the ledger of several replicas)
 * already holds a token with this serial number, which must stay unique to the TSA (RFC 3161
 * section 2.4.2); issue() makes the token again with a fresh serial number. NOT_RECORDED: the
 * record could not be written; the token is withheld. `temporary`: because its store is
 * unavailable or busy for now (an outage, a full queue), so the refusal is temporary too.
 */
export class RecordError extends CodedError<'SERIAL_NUMBER_TAKEN' | 'NOT_RECORDED'> {
  readonly temporary: boolean;
  readonly retryInMs: number | undefined;
  readonly detail: string | undefined;

  constructor(
    code: 'SERIAL_NUMBER_TAKEN' | 'NOT_RECORDED',
    message: string,
    options?: RecordErrorOptions,
  ) {
    super(code, message, options);
    this.temporary = options?.temporary === true;
    this.retryInMs = options?.retryInMs;
    this.detail = options?.detail;
  }
}

/** Tokens made again after SERIAL_NUMBER_TAKEN before giving up (160 random bits: never twice). */
export const MAX_REISSUES = 3;

export interface AuthorityOptions {
  profile: TokenProfile;
  policy: RequestPolicy;
  now?: () => number;
  serialNumber?: () => Uint8Array;
  /**
   * Checked in this order before each token, after the signer's own (a remote signer's open
   * breaker, a PIN the token refused: see signerGuard); the first refusal wins.
   */
  guards?: readonly IssuanceGuard[];
  /** The clock's evidence, read once per token after the guards (audit record, auto accuracy). */
  timeSource?: () => TimeSourceSnapshot | undefined;
  /** The profile's name, put on outcomes, in a server with named profiles. */
  name?: string;
}

/** What answers a POST: one authority, or the profiles' router (tsp/profile-router.ts). */
export interface Issuer {
  readonly cancellable: boolean;
  issue(body: Uint8Array, format: RequestFormat, context?: IssueContext): Promise<IssueOutcome>;
}

/** Parses a request body; throws a TimeStampRejection (badDataFormat) on a malformed one. */
function parseRequest(body: Uint8Array, format: RequestFormat): TimeStampReq {
  return format === 'der' ? parseTimeStampReq(body) : parseJsonTimeStampReq(body);
}

/**
 * The RFC 3161 TSA: request bytes in, a granted or refused outcome out. Knows no transport,
 * logging or files; time, randomness, the signer, the guards and the record step are injected.
 */
export class TimestampAuthority implements Issuer {
  readonly encoder: TokenEncoder;
  readonly name: string | undefined;
  /** Whether issue() can use an AbortSignal (a remote signer); see Signer.cancellable. */
  readonly cancellable: boolean;
  private readonly policy: RequestPolicy;
  private readonly now: () => number;
  private readonly nextSerialNumber: () => Uint8Array;
  private readonly guards: readonly IssuanceGuard[];
  /** Whether the signer refuses now: the first guard, and the answer to a failed signature. */
  private readonly signerRefusal: IssuanceGuard | undefined;
  private readonly timeSource: (() => TimeSourceSnapshot | undefined) | undefined;

  constructor(options: AuthorityOptions) {
    this.encoder = new TokenEncoder(options.profile);
    this.cancellable = options.profile.signer.cancellable === true;
    this.policy = options.policy;
    // Date.now looked up at each call, as the guards' clocks do: one clock for genTime and them.
    this.now = options.now ?? (() => Date.now());
    this.nextSerialNumber = options.serialNumber ?? createSerialNumberSource();
    this.signerRefusal = signerGuard(options.profile.signer);
    this.guards = [...(this.signerRefusal ? [this.signerRefusal] : []), ...(options.guards ?? [])];
    this.timeSource = options.timeSource;
    this.name = options.name;
  }

  /** The first reason issuance is refused right now (or at `now`, a token's time), if any. */
  unavailableReason(now?: number): TimeStampRejection | undefined {
    for (const guard of this.guards) {
      const rejection = guard(now);
      if (rejection) return rejection;
    }
    return undefined;
  }

  issue(
    body: Uint8Array,
    format: RequestFormat,
    context: IssueContext = {},
  ): Promise<IssueOutcome> {
    const parsed = this.parse(body, format);
    return 'status' in parsed ? Promise.resolve(parsed) : this.issueParsed(parsed, context);
  }

  /** The request, or its refusal (badDataFormat) as this authority answers a malformed body. */
  parse(body: Uint8Array, format: RequestFormat): TimeStampReq | RejectionOutcome {
    try {
      return parseRequest(body, format);
    } catch (error) {
      return this.refuse(error, undefined);
    }
  }

  /** The outcome of an error thrown while answering: its rejection, else systemFailure. */
  refuse(error: unknown, request: AcceptedRequest | undefined): RejectionOutcome {
    const outcome = rejectionOutcome(asRejection(error), request);
    if (this.name !== undefined) outcome.profile = this.name;
    return outcome;
  }

  /**
   * issue() for a request already parsed (the profile router parses once to route). With a signer
   * that signs on the event loop and no record step, the token is made without awaiting anything:
   * a promise per step cost ~1 us of a ~30 us token (docs/performance.md).
   */
  issueParsed(parsed: TimeStampReq, context: IssueContext = {}): Promise<IssueOutcome> {
    let request: AcceptedRequest | undefined;
    try {
      request = checkTimeStampReq(parsed, this.policy);
      if (!context.record && this.encoder.encodesNow)
        return Promise.resolve(this.grantNow(request));
    } catch (error) {
      return Promise.resolve(this.refuse(error, request));
    }
    return this.grantAndRecord(request, context);
  }

  private async grantAndRecord(
    request: AcceptedRequest,
    context: IssueContext,
  ): Promise<IssueOutcome> {
    for (let attempt = 0; ; attempt++) {
      let granted: GrantedOutcome;
      try {
        granted = await this.grant(request, context.signal);
      } catch (error) {
        return this.refuse(error, request);
      }
      if (!context.record) return granted;
      try {
        await context.record(granted);
        return granted;
      } catch (error) {
        if (isSerialNumberTaken(error) && attempt < MAX_REISSUES) continue;
        if (error instanceof TimeStampRejection) return this.refuse(error, request);
        // No token unless recorded.
        return this.refuse(Object.assign(recordFailure(error), { cause: error }), undefined);
      }
    }
  }

  /** A new token for an accepted request, with a new serial number, unless a guard refuses. */
  private async grant(request: AcceptedRequest, signal?: AbortSignal): Promise<GrantedOutcome> {
    const token = this.tokenFields(request);
    let der: Buffer;
    try {
      der = await this.encoder.encode(token.fields, signal);
    } catch (error) {
      throw this.signingFailure(error);
    }
    return this.granted(token, der);
  }

  /** {@link grant} where the encoder encodes without a promise (encoder.encodesNow). */
  private grantNow(request: AcceptedRequest): GrantedOutcome {
    const token = this.tokenFields(request);
    let der: Buffer;
    try {
      der = this.encoder.encode(token.fields) as Buffer;
    } catch (error) {
      throw this.signingFailure(error);
    }
    return this.granted(token, der);
  }

  /**
   * The refusal for an error while signing or encoding a token. Where the failure left the signer
   * refusing (a PIN the token refused, a breaker the failure opened), this request is refused as
   * the next ones will be: a 503 to retry where that refusal is temporary, not a 500 first. Other
   * guards' refusals (the ledger's, the clock's) say nothing about this failure. A signature that
   * did not verify stays a fault (500) whatever its breaker does.
   */
  private signingFailure(error: unknown): TimeStampRejection {
    // A signer's own temporary refusal (a remote signer's full wait queue) stays one: a 503.
    if (error instanceof TimeStampRejection && error.temporary) return error;
    if (!(error instanceof TokenSignatureError)) {
      const refusal = this.signerRefusal?.();
      if (refusal) return causedBy(refusal, error);
    }
    return signingFailure(error);
  }

  /** The next token's fields, after the guards; throws the first guard's refusal. */
  private tokenFields(request: AcceptedRequest): PendingToken {
    // One instant for the guards and genTime: a certificate valid when checked is valid at genTime.
    const now = this.now();
    const unavailable = this.unavailableReason(now);
    if (unavailable) throw unavailable;
    const timeSource = this.timeSource?.();
    const accuracyMs = timeSource?.accuracyMs;
    const fields: TokenFields = {
      request,
      serialNumber: this.nextSerialNumber(),
      // signingTime is the same instant, in whole seconds (UTCTime has no fractions).
      genTime: this.encoder.genTimeAt(now, accuracyMs),
    };
    if (accuracyMs !== undefined) fields.accuracyMs = accuracyMs;
    return { fields, timeSource };
  }

  private granted({ fields, timeSource }: PendingToken, der: Buffer): GrantedOutcome {
    const { request } = fields;
    const granted: GrantedOutcome = {
      status: 'granted',
      der,
      serialNumber: toHex(fields.serialNumber),
      genTime: fields.genTime,
      request,
      policy: request.reqPolicy ?? this.encoder.defaultPolicy,
    };
    if (timeSource) granted.timeSource = timeSource;
    if (this.name !== undefined) granted.profile = this.name;
    return granted;
  }
}

/** A token about to be encoded, and the clock's evidence read for it. */
interface PendingToken {
  fields: TokenFields;
  timeSource: TimeSourceSnapshot | undefined;
}

/** systemFailure for an error while signing or encoding a token. */
function signingFailure(error: unknown): TimeStampRejection {
  const detail =
    error instanceof TokenSignatureError ? 'token signature did not verify' : 'signing failed';
  return Object.assign(reject.systemFailure(detail), { cause: error });
}

/** A guard's refusal, with the error that led to it as its cause (for the log). */
function causedBy(refusal: TimeStampRejection, cause: unknown): TimeStampRejection {
  const { failInfo, message, detail, temporary, retryInMs } = refusal;
  return Object.assign(new TimeStampRejection(failInfo, message, detail, temporary, retryInMs), {
    cause,
  });
}

/**
 * systemFailure for a token its record step did not keep: temporary when the record's store
 * is unavailable or busy for now (RecordError.temporary), with the store's retry time and reason
 * (a full ledger queue: 1 s, "the ledger is busy…"), so that it answers as its guard does.
 */
function recordFailure(error: unknown): TimeStampRejection {
  if (isSerialNumberTaken(error)) return reject.systemFailure('serial number collision');
  if (!(error instanceof RecordError)) return reject.systemFailure('audit log write failed');
  const detail = error.detail ?? 'token could not be recorded';
  return error.temporary
    ? reject.unavailable(detail, error.retryInMs)
    : reject.systemFailure(detail);
}

function isSerialNumberTaken(error: unknown): boolean {
  return error instanceof RecordError && error.code === 'SERIAL_NUMBER_TAKEN';
}

function asRejection(error: unknown): TimeStampRejection {
  return error instanceof TimeStampRejection
    ? error
    : Object.assign(reject.systemFailure(), { cause: error });
}

function rejectionOutcome(
  rejection: TimeStampRejection,
  request: AcceptedRequest | undefined,
): RejectionOutcome {
  const outcome: RejectionOutcome = {
    status: 'rejection',
    failInfo: rejection.failInfo,
    message: rejection.message,
    der: encodeRejection(rejection),
  };
  if (rejection.detail) outcome.detail = rejection.detail;
  if (request) outcome.request = request;
  if (rejection.cause !== undefined) outcome.cause = rejection.cause;
  if (rejection.temporary) outcome.temporary = true;
  if (rejection.retryInMs !== undefined) outcome.retryInMs = rejection.retryInMs;
  return outcome;
}
