import {
  constants,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Server } from 'node:net';
import { RequestCutError } from './client-aborts.js';
import { READ_TIMEOUT_MESSAGE } from './client-errors.js';
import { goErrorJson, JSON_TYPE } from './http-outcome.js';
import { requestIdHeaderOf } from './request-id.js';
import { CLOSED_WITHOUT_RESPONSE, markCut } from './server-cuts.js';

const BODY = goErrorJson(408, READ_TIMEOUT_MESSAGE);

/**
 * --read-timeout and --write-timeout for HTTP/2 streams, like Go's per-stream deadlines. Node's own
 * only cover HTTP/1.1: requestTimeout watches HTTP/1.1 parsers, and the server's socket timeout is
 * replaced on HTTP/2 sessions by Fastify's session idle timeout (--cleanup-timeout).
 *
 * - read: a stream whose request (headers and body) has not fully arrived within `readTimeoutMs` of
 *   its opening gets 408 and RST_STREAM. A complete request is left alone however long it is
 *   handled: signing is bounded by --kms-timeout.
 * - write: a stream without traffic for `writeTimeoutMs` (e.g. a client that grants no
 *   flow-control window for the answer) is reset with CANCEL, as the socket would be in HTTP/1.1,
 *   and its request recorded as cut (444). A request still arriving is the read timeout's (with
 *   equal timeouts, the write timer used to reset it before the read timer could answer 408).
 */
export function enforceStreamTimeouts(
  server: Server,
  { readTimeoutMs, writeTimeoutMs }: { readTimeoutMs: number; writeTimeoutMs: number },
): void {
  enforcePrefaceTimeout(server, readTimeoutMs);
  server.on('request', (request: Http2ServerRequest, response: Http2ServerResponse) => {
    // HTTP/1.1 requests on this listener are Node's own to time out.
    if (request.httpVersionMajor !== 2) return;
    const { stream } = request;
    if (writeTimeoutMs > 0) {
      stream.setTimeout(writeTimeoutMs, () => {
        if (readTimeoutMs > 0 && !stream.state.remoteClose) return;
        markCut(stream, CLOSED_WITHOUT_RESPONSE);
        stream.close(constants.NGHTTP2_CANCEL);
      });
    }
    if (readTimeoutMs > 0) {
      const timer = setTimeout(() => cutSlowRequest(request, response), readTimeoutMs);
      timer.unref();
      stream.once('close', () => clearTimeout(timer));
    }
  });
}

/** Go's HTTP/2 server waits this long for a client's connection preface (prefaceTimeout). */
export const PREFACE_TIMEOUT_MS = 10_000;

/**
 * A client that negotiates h2 and then sends no connection preface held its session until
 * --cleanup-timeout (620 s by default): no stream, so no read timeout. It is closed after
 * PREFACE_TIMEOUT_MS, or --read-timeout if shorter, as Go closes it.
 */
function enforcePrefaceTimeout(server: Server, readTimeoutMs: number): void {
  const timeoutMs =
    readTimeoutMs > 0 ? Math.min(readTimeoutMs, PREFACE_TIMEOUT_MS) : PREFACE_TIMEOUT_MS;
  server.on('session', (session: ServerHttp2Session) => {
    const timer = setTimeout(() => session.destroy(), timeoutMs);
    timer.unref();
    // The preface ends with the client's SETTINGS.
    const heard = () => clearTimeout(timer);
    session.once('remoteSettings', heard);
    session.once('close', heard);
  });
}

function cutSlowRequest(request: Http2ServerRequest, response: Http2ServerResponse): void {
  const { stream } = request;
  // remoteClose: the client has sent END_STREAM, i.e. the whole request arrived.
  if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
  // RST_STREAM NO_ERROR after a complete response tells the client to stop sending (RFC 9113
  // section 8.1). Sent once the response is flushed: closing earlier can leave the stream open.
  const stopSending = () => stream.close(constants.NGHTTP2_NO_ERROR);
  if (response.headersSent) return stopSending();
  // Marked, as HTTP/1.1's 408 marks its socket: the request never arrived whole, so it gets no
  // audit line, and if the 408 is not flushed before the stream closes, it is logged 408, not 499.
  markCut(stream, 408);
  // Fastify's body reader, told first: the error handler answers a cut request with nothing. Left
  // to see the stream close after the 408, it failed a Content-Length body and answered again
  // ("Reply was already sent", a WARN with a stack).
  if (request.listenerCount('error') > 0) request.emit('error', new RequestCutError());
  // Through the compatibility response, so the request log and hooks see the 408; with the
  // request ID every answer carries, which no onSend hook adds here.
  const id = requestIdHeaderOf(request);
  response.writeHead(408, {
    [constants.HTTP2_HEADER_CONTENT_TYPE]: JSON_TYPE,
    [constants.HTTP2_HEADER_CONTENT_LENGTH]: Buffer.byteLength(BODY),
    ...(id ? { [id[0]]: id[1] } : {}),
  });
  response.end(BODY, stopSending);
}
