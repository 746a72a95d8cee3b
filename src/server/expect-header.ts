import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/**
 * The `Expect` request header (RFC 9110 section 10.1.1), taken from Node's defaults, which answer
 * before any of the server's hooks run.
 */

type ExpectingRequest = IncomingMessage | Http2ServerRequest;
type ExpectingResponse = ServerResponse | Http2ServerResponse;

const unmetExpectations = new WeakSet<ExpectingRequest>();
const awaitingContinue = new WeakSet<ExpectingRequest>();

/**
 * `Expect: 100-continue`: the interim 100 is left to `sendContinue`, once the request is known to
 * have its body read. Node sends it to every request unless a 'checkContinue' listener decides, so
 * a client uploaded a body that an answer decided by the headers alone (413, 405, 404, 415, 429)
 * then refused; Go sends 100 only once its handler reads the body. Any other expectation: the
 * request is handed on marked (hasUnmetExpectation) to be answered 417 by the server's own hooks,
 * so that it is logged, counted and given its request ID like any answer; Node answered it bare.
 */
export function answerExpectations(server: Server | Http2SecureServer): void {
  server.on('checkContinue', (request: ExpectingRequest, response: ExpectingResponse) => {
    awaitingContinue.add(request);
    server.emit('request', request, response);
  });
  server.on('checkExpectation', (request: ExpectingRequest, response: ExpectingResponse) => {
    unmetExpectations.add(request);
    server.emit('request', request, response);
  });
}

/**
 * Sends the interim 100 to a request that asked for it, once: called where its body is about to be
 * read, after every check that could refuse it from its headers (the rate limit's included).
 */
export function sendContinue(request: ExpectingRequest, response: ExpectingResponse): void {
  if (!awaitingContinue.delete(request)) return;
  response.writeContinue();
}

/** Whether the request asked for an expectation other than 100-continue: answered 417. */
export const hasUnmetExpectation = (request: ExpectingRequest): boolean =>
  unmetExpectations.has(request);
