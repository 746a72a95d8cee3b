import type { FastifyReply } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import type { IssueOutcome, RequestFormat } from '../tsp/authority.js';
import type { FailInfoName } from '../tsp/rejection.js';

/** How an outcome of the TSA is answered over HTTP: the one place that maps the two. */

export const TIMESTAMP_REPLY = 'application/timestamp-reply';
export const JSON_TYPE = 'application/json';

/**
 * Seconds a client should wait before retrying a 503 (while the clock cannot be vouched for, or
 * while something the TSA depends on is unavailable: a temporary systemFailure) where the refusal
 * does not say how long it lasts.
 */
export const RETRY_AFTER_SECONDS = 10;

/** Retry-After for a refusal: how long it lasts, in whole seconds (at least 1), where known. */
function retryAfter(retryInMs: number | undefined): string {
  return String(
    retryInMs === undefined ? RETRY_AFTER_SECONDS : Math.max(1, Math.ceil(retryInMs / 1000)),
  );
}

/** The Go server's status for each refusal: the client's fault, the clock's, or ours. */
const FAIL_INFO_STATUS: Readonly<Record<FailInfoName, number>> = {
  badAlg: 400,
  badRequest: 400,
  badDataFormat: 400,
  unacceptedPolicy: 400,
  unacceptedExtension: 400,
  addInfoNotAvailable: 400,
  timeNotAvailable: 503,
  systemFailure: 500,
};

/**
 * The HTTP status of a refusal: its failInfo's, except a temporary one (something the TSA depends
 * on is unavailable for now: the ledger database, a signer's open circuit breaker), which is 503
 * so that clients retry, whatever its failInfo (systemFailure).
 */
export function httpStatusOf(failInfo: FailInfoName, temporary = false): number {
  return temporary ? 503 : FAIL_INFO_STATUS[failInfo];
}

/**
 * HTTP status of a refused DER request. `rfc`: 200 with the TimeStampResp for the client-caused
 * refusals (jarsigner and the JDK's HttpTimestamper throw on any status >= 400 and never show the
 * failInfo); `go`: the Go server's 400. timeNotAvailable (503) and systemFailure (500, or 503 when
 * temporary) keep their codes in both, with the TimeStampResp: clients that retry need them.
 */
export type DerRejectionStatus = 'rfc' | 'go';

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** Maps an outcome to its HTTP answer for a request of that format. */
export type AnswerOutcome = (outcome: IssueOutcome, format: RequestFormat) => HttpAnswer;

/** --use-http-201 and --der-rejection-status decide the statuses; the rest is the Go server's. */
export function httpAnswers(
  config: Pick<ServeConfig, 'useHttp201' | 'derRejectionStatus'>,
): AnswerOutcome {
  const grantedStatus = config.useHttp201 ? 201 : 200;
  const derRejectionStatus: DerRejectionStatus = config.derRejectionStatus;
  return (outcome, format) => {
    if (outcome.status === 'granted') {
      return {
        status: grantedStatus,
        contentType: TIMESTAMP_REPLY,
        body: outcome.der,
        headers: {},
      };
    }
    const status = httpStatusOf(outcome.failInfo, outcome.temporary);
    const headers: Record<string, string> =
      status === 503 ? { 'retry-after': retryAfter(outcome.retryInMs) } : {};
    if (format === 'json') {
      return {
        status,
        contentType: JSON_TYPE,
        body: goErrorBody(status, outcome.message),
        headers,
      };
    }
    const clientCaused = status < 500;
    return {
      status: clientCaused && derRejectionStatus === 'rfc' ? 200 : status,
      contentType: TIMESTAMP_REPLY,
      body: outcome.der,
      headers,
    };
  };
}

/** The Go server's JSON error body, `{"code":…,"message":…}` (its members in Go's order). */
export const goErrorJson = (code: number, message: string): string =>
  JSON.stringify({ code, message });

/** {@link goErrorJson} as bytes, for a reply. */
export function goErrorBody(code: number, message: string): Buffer {
  return Buffer.from(goErrorJson(code, message));
}

/**
 * Answers with the Go server's JSON error, labelled `application/json` as go-openapi labels it:
 * sent as bytes, because Fastify adds `; charset=utf-8` to a JSON type it serializes.
 */
export function sendGoError(
  reply: FastifyReply,
  status: number,
  message: string,
  code = status,
): FastifyReply {
  reply.request.httpRefusal = message;
  return reply.code(status).type(JSON_TYPE).send(goErrorBody(code, message));
}

export function sendAnswer(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  return reply
    .headers(answer.headers)
    .code(answer.status)
    .type(answer.contentType)
    .send(answer.body);
}
