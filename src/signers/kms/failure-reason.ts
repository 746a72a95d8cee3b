import { CodedError, stackFrames } from '../../errors.js';
import { GrpcStatus } from './grpc-status.js';

/**
 * Why a call to the remote signature service failed, as a bounded metric label:
 * - timeout: no answer within --kms-timeout;
 * - connection: network error (reset, refused, TLS...) or gRPC UNAVAILABLE;
 * - server_error: HTTP 5xx, or gRPC INTERNAL, UNKNOWN, DATA_LOSS, DEADLINE_EXCEEDED;
 * - throttled: throttling outlasted the retries, or the deadline left no time for the next one;
 * - client_error: any other definite refusal from the service (HTTP 4xx, other gRPC codes);
 * - aborted: the caller gave up while waiting for a free slot (a call sent runs to its answer);
 * - saturated: the call waited for a slot (--kms-max-concurrency calls in flight) and ran out of
 *   its deadline, waiting or in what was left of it, while the service answered other calls: local
 *   overload, which does not count against the service (a call that waited while the service
 *   answered none is a `timeout`: a hung service holds every slot);
 * - other: anything else (an answer without a usable signature, one the token's check refused...).
 */
export const FAILURE_REASONS = [
  'timeout',
  'connection',
  'server_error',
  'throttled',
  'client_error',
  'aborted',
  'saturated',
  'other',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Reasons that say the service is unavailable; they count towards opening the circuit. */
export const SERVICE_FAILURES: ReadonlySet<FailureReason> = new Set([
  'timeout',
  'connection',
  'server_error',
  'other',
]);

/** gRPC status codes (grpc/status.h) that mean the server failed rather than refused. */
const GRPC_SERVER_FAILURES: ReadonlySet<number> = new Set([
  GrpcStatus.UNKNOWN,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.DATA_LOSS,
]);

/** Node and undici error codes of a failed connection. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'REQUEST_SEND_ERROR', // Azure core: the request could not be sent
]);

/** The SDKs' HTTP status fields: AWS ($metadata.httpStatusCode), Azure (statusCode), ours (status). */
function httpStatusOf(error: object): number | undefined {
  const candidates = [
    (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode,
    (error as { statusCode?: unknown }).statusCode,
    (error as { status?: unknown }).status,
  ];
  return candidates.find((value): value is number => typeof value === 'number' && value >= 100);
}

/** Classifies an error of a service call (the deadline, throttling and aborts are decided by the caller). */
export function classifyServiceError(error: unknown): FailureReason {
  // The network error may be wrapped (fetch's TypeError, SDK errors): walk the causes.
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') break;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'connection';
    if (typeof code === 'number' && depth === 0) {
      if (code === GrpcStatus.UNAVAILABLE) return 'connection';
      if (GRPC_SERVER_FAILURES.has(code)) return 'server_error';
      if (code > 0 && code <= 16) return 'client_error';
    }
    const status = depth === 0 ? httpStatusOf(current) : undefined;
    // Below 400, an answer the SDK could not read (a proxy's HTML page with 200, Azure's
    // PARSE_ERROR): no signature came, a failure of the service, not a refusal (which would
    // reset the breaker's count).
    if (status !== undefined)
      return status >= 500 ? 'server_error' : status >= 400 ? 'client_error' : 'other';
    current = (current as { cause?: unknown }).cause;
  }
  return 'other';
}

/** A remote service as the description of a failed call names it. */
export interface ServiceLabel {
  /** e.g. 'AWS KMS', 'Cloud KMS', 'Azure Key Vault'. */
  name: string;
  /**
   * Where the endpoint comes from when it is not the service's own: a variable's name or a
   * phrase (`AWS_ENDPOINT_URL_KMS`), never the address, which may hold credentials.
   */
  override?: string | undefined;
}

/** What was seen of an HTTP answer whose SDK error does not say it (a provider records it). */
export interface AnswerSeen {
  status: number;
  contentType?: string | undefined;
  body?: string | undefined;
}

/** The longest excerpt of a service's text that a description quotes, escapes included. */
export const MAX_EXCERPT = 300;

// eslint-disable-next-line no-control-regex -- C0 controls, DEL, C1 controls, line separators
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * A service's text (an SDK message, an answer's body) as a description quotes it: on one line,
 * every control character as \xNN (\u2028 as \u2028), and at most `max` characters, an ellipsis
 * included when it is cut: a 300 KB body once made a 300 KB log line.
 */
export function serviceTextExcerpt(text: string, max = MAX_EXCERPT): string {
  let excerpt = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const piece = CONTROL.test(char)
      ? code > 0xff
        ? `\\u${code.toString(16)}`
        : `\\x${code.toString(16).padStart(2, '0')}`
      : char;
    if (excerpt.length + piece.length > max - 1) return `${excerpt}…`;
    excerpt += piece;
  }
  return excerpt;
}

/** The Content-Type of the answer an SDK error came from: AWS ($response), Azure (response). */
function contentTypeOf(error: object): string | undefined {
  const aws = (error as { $response?: { headers?: Record<string, unknown> } }).$response?.headers;
  const azure = (error as { response?: { headers?: { get?: (name: string) => unknown } } }).response
    ?.headers;
  const value =
    aws?.['content-type'] ?? (typeof azure?.get === 'function' ? azure.get('content-type') : '');
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The body the SDK kept of that answer, as text (Azure's `bodyAsText`; AWS keeps a stream). */
function bodyOf(error: object): string | undefined {
  const body = (error as { response?: { bodyAsText?: unknown } }).response?.bodyAsText;
  return typeof body === 'string' ? body : undefined;
}

/** An error's first line, after its class name unless that says nothing the message does not. */
function namedMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error).split('\n')[0] ?? '';
  const message = error.message.split('\n')[0] ?? '';
  const name = error.name;
  return name && name !== 'Error' && !message.includes(name) ? `${name}: ${message}` : message;
}

/** gRPC codes of a call that failed on the way rather than an answer: CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE. */
const GRPC_NO_ANSWER: ReadonlySet<number> = new Set([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.UNAVAILABLE,
]);

/** ` (endpoint override: …)` when the service has one in effect. */
export function overrideNote(service: ServiceLabel): string {
  return service.override ? ` (endpoint override: ${service.override})` : '';
}

/**
 * One line for a failed call of a service's SDK (not for our own coded errors, which say enough):
 * the service, the HTTP status and Content-Type when known (from the error, or `answer` where the
 * SDK failed on an answer without saying so), one excerpt at most (serviceTextExcerpt: the body
 * of an answer that is not JSON, a proxy's page, else the SDK's message), and the endpoint
 * override in effect, which is the first suspect when a service answers what it never would.
 * Never the SDK's other fields (an AWS error copies the answer's fields onto itself).
 */
export function describeServiceError(
  error: unknown,
  service: ServiceLabel,
  answer?: AnswerSeen,
): string {
  const fields = typeof error === 'object' && error !== null ? error : {};
  const status = httpStatusOf(fields) ?? answer?.status;
  const contentType = contentTypeOf(fields) ?? answer?.contentType;
  const body = bodyOf(fields) ?? answer?.body;
  const override = overrideNote(service);
  const message = serviceTextExcerpt(namedMessage(error));
  if (status === undefined) {
    const code = (fields as { code?: unknown }).code;
    const answered =
      typeof code === 'number' && code > 0 && code <= GrpcStatus.LAST && !GRPC_NO_ANSWER.has(code);
    return `${service.name} ${answered ? 'answered' : 'call failed:'} ${message}${override}`;
  }
  const type = contentType ? ` (${serviceTextExcerpt(contentType, 80)})` : '';
  const unread = status < 300 ? ', an answer the SDK could not read' : '';
  const detail =
    body !== undefined && body !== '' && !/json/i.test(contentType ?? '')
      ? `"${serviceTextExcerpt(body, MAX_EXCERPT - 2)}"`
      : message;
  return `${service.name} answered HTTP ${status}${type}${unread}: ${detail}${override}`;
}

/** The request ID the service gave the failed call: AWS's `$metadata.requestId`, Azure's `x-ms-request-id`. */
function requestIdOf(error: object): string | undefined {
  const aws = (error as { $metadata?: { requestId?: unknown } }).$metadata?.requestId;
  const headers = (error as { response?: { headers?: { get?: (name: string) => unknown } } })
    .response?.headers;
  const azure = typeof headers?.get === 'function' ? headers.get('x-ms-request-id') : undefined;
  const id = typeof aws === 'string' ? aws : azure;
  return typeof id === 'string' && id !== '' ? serviceTextExcerpt(id, 100) : undefined;
}

/**
 * What our error keeps as its cause of an SDK error it describes (describeServiceError): the SDK
 * error's class and code, the HTTP status, the service's request ID (what the provider's audit
 * trail and support ask for) and its stack frames (where it was thrown, for a bug of ours), never
 * its message or other fields, which may hold a whole answer. Debug logs print causes whole.
 */
export class ServiceErrorSummary extends CodedError<'SERVICE_ERROR'> {
  override name = 'ServiceErrorSummary';
  /** The SDK error's class, as KMSInternalException or RestError. */
  readonly errorClass: string;
  /** Its own code: an AWS error name, a gRPC status, a Node network code. */
  readonly serviceCode?: string | number;
  readonly httpStatus?: number;
  readonly requestId?: string;

  constructor(error: unknown) {
    const fields = typeof error === 'object' && error !== null ? error : {};
    const errorClass = serviceTextExcerpt(error instanceof Error ? error.name : typeof error, 80);
    const code = (fields as { code?: unknown }).code;
    const serviceCode =
      typeof code === 'string'
        ? serviceTextExcerpt(code, 80)
        : typeof code === 'number'
          ? code
          : undefined;
    const status = httpStatusOf(fields);
    const requestId = requestIdOf(fields);
    // In the message too: a log line's serialiser prints a cause's message and stack, not its fields.
    const known = [
      ...(status === undefined ? [] : [`HTTP ${status}`]),
      ...(requestId === undefined ? [] : [`request ID ${requestId}`]),
      'its message not kept',
    ];
    super(
      'SERVICE_ERROR',
      `${errorClass}${serviceCode === undefined ? '' : ` ${serviceCode}`} (${known.join(', ')})`,
    );
    this.errorClass = errorClass;
    if (serviceCode !== undefined) this.serviceCode = serviceCode;
    if (status !== undefined) this.httpStatus = status;
    if (requestId !== undefined) this.requestId = requestId;
    this.stack = `${this.name}: ${this.message}\n${stackFrames(error)}`.trimEnd();
  }
}
