import { toHex } from '../asn1/der.js';
import type { IssuanceGuard } from './guards.js';
import { parseJsonTimeStampReq } from './json-request.js';
import { reject, TimeStampRejection, type FailInfoName } from './rejection.js';
import {
  checkTimeStampReq,
  parseTimeStampReq,
  type AcceptedRequest,
  type RequestPolicy,
} from './request.js';
import { encodeJsonError, encodeRejection } from './response.js';
import { createSerialNumberSource } from './serial-number.js';
import { TokenEncoder, TokenSignatureError, type TokenProfile } from './token-encoder.js';

export type RequestFormat = 'der' | 'json';

export const TIMESTAMP_REPLY = 'application/timestamp-reply';
export const JSON_TYPE = 'application/json; charset=utf-8';

/** What one request produced: the HTTP answer, and the facts logs, metrics and audit need. */
export interface IssueOutcome {
  httpStatus: number;
  contentType: string;
  body: Buffer;
  granted: boolean;
  failInfo?: FailInfoName;
  /** Fixed text of a rejection (never client input). */
  message?: string;
  detail?: string;
  /** Hex serial number and genTime of a granted token. */
  serialNumber?: string;
  genTime?: Date;
  request?: AcceptedRequest;
  /** The underlying error of a systemFailure, for the log only. */
  cause?: unknown;
}

/**
 * HTTP status of a refused DER request. `rfc`: 200 with the TimeStampResp for the client-caused
 * refusals (jarsigner and the JDK's HttpTimestamper throw on any status >= 400 and never show the
 * failInfo); `go`: the Go server's 400. timeNotAvailable (503) and systemFailure (500) keep their
 * codes in both: clients that retry need them.
 */
export type DerRejectionStatus = 'rfc' | 'go';

export interface AuthorityOptions {
  profile: TokenProfile;
  policy: RequestPolicy;
  /** HTTP status of a granted token (200, or 201 with --use-http-201). */
  grantedStatus?: number;
  /** Default `rfc`. */
  derRejectionStatus?: DerRejectionStatus;
  now?: () => number;
  serialNumber?: () => Uint8Array;
  guards?: IssuanceGuard[];
}

/**
 * The RFC 3161 TSA: request bytes in, TimeStampResp (or the Go JSON error) out. Pure of HTTP,
 * logging and I/O; time, randomness and the signer are injected.
 */
export class TimestampAuthority {
  readonly encoder: TokenEncoder;
  /** Whether issue() can use an AbortSignal (a remote signer); see Signer.cancellable. */
  readonly cancellable: boolean;
  private readonly policy: RequestPolicy;
  private readonly grantedStatus: number;
  private readonly derRejectionStatus: DerRejectionStatus;
  private readonly now: () => number;
  private readonly nextSerialNumber: () => Uint8Array;
  private readonly guards: IssuanceGuard[];

  constructor(options: AuthorityOptions) {
    this.encoder = new TokenEncoder(options.profile);
    this.cancellable = options.profile.signer.cancellable === true;
    this.policy = options.policy;
    this.grantedStatus = options.grantedStatus ?? 200;
    this.derRejectionStatus = options.derRejectionStatus ?? 'rfc';
    this.now = options.now ?? Date.now;
    this.nextSerialNumber = options.serialNumber ?? createSerialNumberSource();
    this.guards = [...(options.guards ?? [])];
  }

  addGuard(guard: IssuanceGuard): void {
    this.guards.push(guard);
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
    signal?: AbortSignal,
  ): Promise<IssueOutcome> {
    let request: AcceptedRequest | undefined;
    try {
      const parsed = format === 'der' ? parseTimeStampReq(body) : parseJsonTimeStampReq(body);
      request = checkTimeStampReq(parsed, this.policy);
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
          error instanceof TokenSignatureError
            ? 'token signature did not verify'
            : 'signing failed';
        throw Object.assign(reject.systemFailure(detail), { cause: error });
      }
      return {
        httpStatus: this.grantedStatus,
        contentType: TIMESTAMP_REPLY,
        body: token,
        granted: true,
        serialNumber: toHex(serialNumber),
        genTime,
        request,
      };
    } catch (error) {
      const rejection =
        error instanceof TimeStampRejection
          ? error
          : Object.assign(reject.systemFailure(), { cause: error });
      return rejectionOutcome(rejection, format, request, this.derRejectionStatus);
    }
  }
}

/** The response and facts of a rejection (also used by the server when it withholds a token). */
export function rejectionOutcome(
  rejection: TimeStampRejection,
  format: RequestFormat,
  request: AcceptedRequest | undefined,
  derRejectionStatus: DerRejectionStatus = 'rfc',
): IssueOutcome {
  const clientCaused = rejection.httpStatus < 500;
  const outcome: IssueOutcome = {
    httpStatus:
      format === 'der' && clientCaused && derRejectionStatus === 'rfc' ? 200 : rejection.httpStatus,
    contentType: format === 'der' ? TIMESTAMP_REPLY : JSON_TYPE,
    body:
      format === 'der'
        ? encodeRejection(rejection)
        : encodeJsonError(rejection.httpStatus, rejection.message),
    granted: false,
    failInfo: rejection.failInfo,
    message: rejection.message,
  };
  if (rejection.detail) outcome.detail = rejection.detail;
  if (request) outcome.request = request;
  if (rejection.cause !== undefined) outcome.cause = rejection.cause;
  return outcome;
}
