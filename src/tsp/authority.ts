import { toHex } from '../asn1/der.js';
import { CodedError } from '../errors.js';
import type { IssuanceGuard } from './guards.js';
import { parseJsonTimeStampReq } from './json-request.js';
import { reject, TimeStampRejection, type FailInfoName } from './rejection.js';
import {
  checkTimeStampReq,
  parseTimeStampReq,
  type AcceptedRequest,
  type RequestPolicy,
} from './request.js';
import { encodeRejection } from './response.js';
import { createSerialNumberSource } from './serial-number.js';
import { TokenEncoder, TokenSignatureError, type TokenProfile } from './token-encoder.js';

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
}

/** What one request produced: plain facts; how to answer them is the caller's business. */
export type IssueOutcome = GrantedOutcome | RejectionOutcome;

export interface IssueContext {
  /** Aborts a remote signing call (the client went away); see Signer.cancellable. */
  signal?: AbortSignal;
  /**
   * Makes a granted token durable before it is handed out (the audit log, the ledger). A token
   * whose record fails is withheld: the outcome turns into systemFailure. A record step that
   * throws a RecordError SERIAL_NUMBER_TAKEN gets a new token with a new serial number instead.
   */
  record?: (granted: GrantedOutcome) => Promise<void>;
}

/**
 * Thrown by a record step. SERIAL_NUMBER_TAKEN: a shared record (the ledger of several replicas)
 * already holds a token with this serial number, which must stay unique to the TSA (RFC 3161
 * section 2.4.2); issue() makes the token again with a fresh serial number. NOT_RECORDED: the
 * record could not be written (its store is unavailable); the token is withheld.
 */
export class RecordError extends CodedError<'SERIAL_NUMBER_TAKEN' | 'NOT_RECORDED'> {}

/** Tokens made again after SERIAL_NUMBER_TAKEN before giving up (160 random bits: never twice). */
export const MAX_REISSUES = 3;

export interface AuthorityOptions {
  profile: TokenProfile;
  policy: RequestPolicy;
  now?: () => number;
  serialNumber?: () => Uint8Array;
  /** Checked in this order before each token; the first refusal wins. */
  guards?: readonly IssuanceGuard[];
}

/**
 * The RFC 3161 TSA: request bytes in, a granted or refused outcome out. Knows no transport,
 * logging or files; time, randomness, the signer, the guards and the record step are injected.
 */
export class TimestampAuthority {
  readonly encoder: TokenEncoder;
  /** Whether issue() can use an AbortSignal (a remote signer); see Signer.cancellable. */
  readonly cancellable: boolean;
  private readonly policy: RequestPolicy;
  private readonly now: () => number;
  private readonly nextSerialNumber: () => Uint8Array;
  private readonly guards: readonly IssuanceGuard[];

  constructor(options: AuthorityOptions) {
    this.encoder = new TokenEncoder(options.profile);
    this.cancellable = options.profile.signer.cancellable === true;
    this.policy = options.policy;
    this.now = options.now ?? Date.now;
    this.nextSerialNumber = options.serialNumber ?? createSerialNumberSource();
    this.guards = [...(options.guards ?? [])];
  }

  /** The first reason issuance is refused right now, if any. */
  unavailableReason(): TimeStampRejection | undefined {
    for (const guard of this.guards) {
      const rejection = guard();
      if (rejection) return rejection;
    }
    return undefined;
  }

  async issue(
    body: Uint8Array,
    format: RequestFormat,
    context: IssueContext = {},
  ): Promise<IssueOutcome> {
    let request: AcceptedRequest | undefined;
    try {
      const parsed = format === 'der' ? parseTimeStampReq(body) : parseJsonTimeStampReq(body);
      request = checkTimeStampReq(parsed, this.policy);
    } catch (error) {
      return rejectionOutcome(asRejection(error), request);
    }
    for (let attempt = 0; ; attempt++) {
      let granted: GrantedOutcome;
      try {
        granted = await this.grant(request, context.signal);
      } catch (error) {
        return rejectionOutcome(asRejection(error), request);
      }
      if (!context.record) return granted;
      try {
        await context.record(granted);
        return granted;
      } catch (error) {
        if (isSerialNumberTaken(error) && attempt < MAX_REISSUES) continue;
        // No token unless recorded.
        return rejectionOutcome(
          Object.assign(
            reject.systemFailure(
              isSerialNumberTaken(error)
                ? 'serial number collision'
                : error instanceof RecordError
                  ? 'token could not be recorded'
                  : 'audit log write failed',
            ),
            { cause: error },
          ),
          undefined,
        );
      }
    }
  }

  /** A new token for an accepted request, with a new serial number, unless a guard refuses. */
  private async grant(request: AcceptedRequest, signal?: AbortSignal): Promise<GrantedOutcome> {
    const unavailable = this.unavailableReason();
    if (unavailable) throw unavailable;
    const serialNumber = this.nextSerialNumber();
    // genTime has whole-second precision; signingTime is the same instant.
    const genTime = new Date(Math.floor(this.now() / 1000) * 1000);
    let token: Buffer;
    try {
      token = await this.encoder.encode({ request, serialNumber, genTime }, signal);
    } catch (error) {
      const detail =
        error instanceof TokenSignatureError ? 'token signature did not verify' : 'signing failed';
      throw Object.assign(reject.systemFailure(detail), { cause: error });
    }
    return { status: 'granted', der: token, serialNumber: toHex(serialNumber), genTime, request };
  }
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
  return outcome;
}
