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
const GRPC_UNAVAILABLE = 14;
const GRPC_SERVER_FAILURES = new Set([2, 4, 13, 15]); // UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, DATA_LOSS

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
      if (code === GRPC_UNAVAILABLE) return 'connection';
      if (GRPC_SERVER_FAILURES.has(code)) return 'server_error';
      if (code > 0 && code <= 16) return 'client_error';
    }
    const status = depth === 0 ? httpStatusOf(current) : undefined;
    if (status !== undefined) return status >= 500 ? 'server_error' : 'client_error';
    current = (current as { cause?: unknown }).cause;
  }
  return 'other';
}
