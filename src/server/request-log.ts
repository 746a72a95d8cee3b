import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { ClientError } from './client-errors.js';
import { CLIENT_CLOSED_REQUEST, clientAborted } from './client-aborts.js';
import { CLOSED_WITHOUT_RESPONSE } from './server-cuts.js';
import { HEALTH_PATHS } from './health.js';
import { requestLineWriter, type RequestLineFields, type RequestLineLevel } from './logger.js';
import { observeUnhooked } from './unhooked-requests.js';

/**
 * The longest URL a line carries whole: a URL may be up to --max-header-size long (16 KB a line,
 * refused requests included), as request IDs are capped for the same reason (request-id.ts).
 */
const MAX_LOGGED_URL = 256;

/** `url`, or its first MAX_LOGGED_URL characters marked as cut. */
const loggedUrl = (url: string): string =>
  url.length <= MAX_LOGGED_URL ? url : `${url.slice(0, MAX_LOGGED_URL)}…`;

/**
 * Milliseconds to the microsecond: the timer's digits beyond are noise, and writing a double of 17
 * significant digits cost ~1 µs more a line in a loaded server than one of this length.
 */
const wholeMicroseconds = (ms: number): number => Math.round(ms * 1_000) / 1_000;

/** An HTTP/2 method may be any token, up to --max-header-size long (HTTP/1.1 knows a few dozen). */
const MAX_LOGGED_METHOD = 32;

/** `method`, or its first MAX_LOGGED_METHOD characters marked as cut: in the log and in the 405's message. */
export const loggedMethod = (method: string): string =>
  method.length <= MAX_LOGGED_METHOD ? method : `${method.slice(0, MAX_LOGGED_METHOD)}…`;

/**
 * One line per request once it is answered (or its client went away), health probes aside: what
 * was asked, the status, the time taken, and the token's serial number or the refusal's reason.
 * The prod logger's lines are built by its request-line writer; an error's (its stack through
 * pino's serializer) and any other logger's go through the request's child logger.
 */
export function registerRequestLog(app: FastifyInstance, logger: FastifyBaseLogger): void {
  const writeLine = requestLineWriter(logger);
  const causes = new RepeatedCauses();
  const healthPaths = new Set(HEALTH_PATHS);
  const logRequest = (request: FastifyRequest, status: number, elapsedMs: number): void => {
    if (healthPaths.has(request.routeOptions.url ?? '')) return;
    const outcome = request.tsaOutcome;
    const fields: RequestLineFields = {
      method: loggedMethod(request.method),
      // As the client sent it: before the /ping case and Go's path cleaning (app.ts).
      url: loggedUrl(request.originalUrl),
      protocol: `HTTP/${request.raw.httpVersion}`,
      remoteAddress: request.ip,
      statusCode: status,
      responseTime: wholeMicroseconds(elapsedMs),
    };
    let cause: unknown;
    if (outcome?.status === 'granted') fields.serialNumber = outcome.serialNumber;
    else if (outcome?.status === 'rejection') {
      fields.failInfo = outcome.failInfo;
      fields.reason = outcome.detail ?? outcome.message;
      cause = outcome.cause;
    } else if (request.httpRefusal !== null) fields.reason = request.httpRefusal;
    // A DER rejection answered 200 (--der-rejection-status=rfc) is still a rejection.
    const [level, message] = lineFor(status, outcome?.status === 'rejection', cause !== undefined);
    if (writeLine && !cause) writeLine(request.id, level, fields, message);
    else request.log[level](cause ? { ...fields, err: causes.logged(cause) } : fields, message);
  };
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    if (!clientAborted(request)) logRequest(request, reply.statusCode, reply.elapsedTime);
    done();
  });
  observeUnhooked(app, logRequest);
}

/** A cause's stack is logged again at most this often while its message repeats. */
export const STACK_REPEAT_MS = 5 * 60_000;

/** Messages remembered at most; past it the memory starts over (stacks are logged again). */
const MAX_REMEMBERED_CAUSES = 256;

/**
 * An error's message with its causes', as pino's serializer writes it (`fetch failed: connect
 * ECONNREFUSED …`): two failures alike on the surface may differ below it.
 */
function messageWithCauses(error: Error): string {
  let text = error.message;
  const seen = new Set<unknown>([error]);
  for (let cause = error.cause; cause instanceof Error && !seen.has(cause); cause = cause.cause) {
    seen.add(cause);
    text += `: ${cause.message}`;
  }
  return text;
}

/**
 * The error a failed request's line carries: whole (pino's serializer: type, message, stack,
 * causes) the first time its message (with its causes) is seen, then, while the same one keeps
 * coming back within STACK_REPEAT_MS of its stack (a KMS refusing every call: 2 KB a line), the
 * same error with its whole message and a stack of one line saying how long ago its whole stack
 * was logged.
 */
export class RepeatedCauses {
  private readonly stackLoggedAt = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  logged(cause: unknown): unknown {
    if (!(cause instanceof Error)) return cause;
    const message = messageWithCauses(cause);
    const now = this.now();
    const loggedAt = this.stackLoggedAt.get(message);
    if (loggedAt === undefined || now - loggedAt >= STACK_REPEAT_MS) {
      if (this.stackLoggedAt.size >= MAX_REMEMBERED_CAUSES) this.stackLoggedAt.clear();
      this.stackLoggedAt.set(message, now);
      return cause;
    }
    // The error itself for pino's serializer (its type, its fields such as `code`), with the
    // causes' messages in its own and no cause: their stacks were logged with the first.
    const secondsAgo = Math.round((now - loggedAt) / 1_000);
    return Object.create(cause, {
      message: { value: message },
      stack: { value: `${cause.name}: ${message}\n    (stack logged ${secondsAgo} s ago)` },
      cause: { value: undefined },
    }) as Error;
  }
}

/**
 * The level and message of a request's line, by the status it got. A 503 refused while something
 * the server depends on is unavailable (the ledger, the clock, an open breaker: each logs its
 * fault once, when it begins) is a warning; an outage would otherwise flood the log with errors.
 * The requests that met the fault (`failed`: the error is their cause) stay errors, with it.
 */
function lineFor(status: number, rejected: boolean, failed = false): [RequestLineLevel, string] {
  if (status === CLIENT_CLOSED_REQUEST) return ['info', 'request aborted'];
  if (status === CLOSED_WITHOUT_RESPONSE) return ['warn', 'connection closed without response'];
  if (status === 408) return ['warn', 'request timed out'];
  if (status === 503 && !failed) return ['warn', 'request refused: service unavailable'];
  if (status >= 500) return ['error', 'request failed'];
  if (status >= 400 || rejected) return ['warn', 'request rejected'];
  return ['info', 'request completed'];
}

/**
 * One line for a request refused before it was parsed (client-errors.ts): no request ID, method or
 * URL exist, so the line says what the parser found and who sent it; never the bytes it read.
 */
export function logUnparsedRequest(
  logger: FastifyBaseLogger,
  status: number,
  error: ClientError,
  socket: Socket,
): void {
  const fields = {
    statusCode: status,
    reason: error.reason ? `${error.code}: ${error.reason}` : (error.code ?? error.message),
    remoteAddress: socket.remoteAddress,
  };
  const [level, message] = lineFor(status, true);
  logger[level](fields, message);
}
