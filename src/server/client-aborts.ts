import type { Http2ServerRequest } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodedError } from '../errors.js';
import { cutStatus } from './server-cuts.js';

/**
 * The status logged and counted for a request whose client went away before its response was
 * sent (nginx's 499 "client closed request"). It is never sent: there is no one to send it to.
 */
export const CLIENT_CLOSED_REQUEST = 499;

/** Called with the status to log and count: 499, or what the server sent before it cut. */
type AbortListener = (request: FastifyRequest, reply: FastifyReply, status: number) => void;

const aborted = new WeakSet<FastifyRequest>();

/**
 * Whether the client went away before its response was sent: an HTTP/2 stream reset (or closed)
 * before the response ended, an HTTP/1.1 connection closed before the body's Content-Length bytes
 * arrived or before the response was written. Such a request is logged and counted once, by the
 * `watchClientAborts` listener (499, or 408/444 where the server cut it: server-cuts.ts); `onResponse` hooks skip it (HTTP/2 runs them when the stream
 * closes, with the default status 200, although nothing was answered).
 */
export function clientAborted(request: FastifyRequest): boolean {
  return aborted.has(request) || request.raw.aborted;
}

/**
 * Whether the request cannot be handled because it did not arrive whole or can no longer be
 * answered: aborted, or its HTTP/2 stream already closed (reset by the client, or cut by
 * --read-timeout before END_STREAM), or its HTTP/1.1 connection is gone. A body delivered in that
 * state may be a truncated one that still parses, so it must not be parsed at all.
 */
export function requestCut(request: FastifyRequest): boolean {
  if (clientAborted(request)) return true;
  const raw = request.raw as IncomingMessage | Http2ServerRequest;
  if ('stream' in raw) return raw.stream.closed || raw.stream.destroyed;
  // Strict comparisons: Fastify's in-process test requests have neither.
  return raw.complete === false || raw.socket?.destroyed === true;
}

/**
 * Whether a cut request was answered before its body arrived (HTTP/2's 408 at --read-timeout,
 * through the compatibility response): its body reader then ends, with nothing left to send.
 */
export function answeredWhileArriving(request: FastifyRequest): boolean {
  const raw = request.raw as IncomingMessage | Http2ServerRequest;
  return 'stream' in raw && raw.stream.headersSent;
}

/** What the body parser passes on for a cut request: the error handler answers nothing. */
export class RequestCutError extends CodedError<'REQUEST_CUT'> {
  readonly statusCode = 400;
  constructor() {
    super('REQUEST_CUT', 'request did not arrive whole');
  }
}

/**
 * Calls `onAbort` once for each request of `app` whose connection or stream closes before its
 * response is sent: its client went away (499), or the server cut it, after a 408 at
 * --read-timeout or with nothing at --write-timeout (444) (server-cuts.ts). Called once per app
 * (unhooked-requests.ts).
 */
export function watchClientAborts(app: FastifyInstance, onAbort: AbortListener): void {
  const abort = (request: FastifyRequest, reply: FastifyReply): void => {
    aborted.add(request);
    onAbort(request, reply, cutStatus(request.raw) ?? CLIENT_CLOSED_REQUEST);
  };
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    // Node raises a stream it already reset (a body longer than its content-length, read while
    // an earlier stream's body was) as a request, without 'aborted': its close reads as answered.
    // There is no one to answer: the rest of its walk (rate limit, parsing, handler) is skipped.
    if (closedOnArrival(request.raw)) {
      abort(request, reply);
      return;
    }
    reply.raw.once('close', () => {
      // HTTP/2 sets request.raw.aborted when the response had not ended (as HTTP/2 streams say:
      // ended, not necessarily flushed); HTTP/1.1 only when the body was incomplete.
      const answered = 'stream' in request.raw || reply.raw.writableEnded;
      if (!request.raw.aborted && answered) return;
      abort(request, reply);
    });
    done();
  });
}

/** Whether an HTTP/2 request's stream was closed before anything was sent on it. */
function closedOnArrival(raw: IncomingMessage | Http2ServerRequest): boolean {
  if (!('stream' in raw)) return false;
  const { stream } = raw;
  return (stream.closed || stream.destroyed) && !stream.headersSent;
}
