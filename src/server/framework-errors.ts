import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { leavesLargeBodyUnread } from './client-errors.js';
import { sendGoError } from './http-outcome.js';
import { reportUnhooked } from './unhooked-requests.js';

/** Fixed messages: the URL itself is client input and is not echoed. */
const MESSAGES: ReadonlyMap<string, string> = new Map([
  ['FST_ERR_BAD_URL', 'the URL is not valid: malformed percent-encoding'],
  ['FST_ERR_MAX_PARAM_LENGTH', 'a segment of the URL path is too long'],
]);

/**
 * Fastify's frameworkErrors: a URL its router cannot decode (malformed percent-encoding), or one
 * with a path parameter over its length limit, is answered outside any route, where no hook runs.
 * It gets the Go JSON body and the request ID header here, and is logged and counted as any other
 * request (unhooked-requests.ts).
 */
export function frameworkErrorHandler(requestIdHeader: string) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    // Called as the request arrives (Fastify's router, before any route), where a route's reply
    // timer would start; that timer never runs here (reply.elapsedTime reads 0): timed here.
    const arrived = performance.now();
    const status = error.statusCode ?? 400;
    // No onSend hook runs here: the same close as app.ts's for a large body not read.
    if (leavesLargeBodyUnread(request.raw)) reply.header('connection', 'close');
    sendGoError(
      reply.header(requestIdHeader, request.id),
      status,
      MESSAGES.get(error.code) ?? 'the request cannot be routed',
    );
    // Until the answer is handed to the socket, for the log line and the duration metric.
    reportUnhooked(request.server, request, status, performance.now() - arrived);
  };
}
