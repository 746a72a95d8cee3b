import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Server } from 'node:net';

const BODY = JSON.stringify({ code: 408, message: 'request not received within the read timeout' });

/**
 * --read-timeout for HTTP/2 streams, which Node's requestTimeout does not cover (it only watches
 * HTTP/1.1 parsers): a stream whose request (headers and body) has not fully arrived within
 * `readTimeoutMs` of its opening gets 408 and RST_STREAM, like Go's per-stream read deadline.
 * A stream already answering, or whose request is complete, is left alone: handling time is
 * bounded by --kms-timeout and the write timeout, not by this one.
 */
export function enforceStreamReadTimeout(server: Server, readTimeoutMs: number): void {
  if (readTimeoutMs <= 0) return;
  server.on('request', (request: Http2ServerRequest, response: Http2ServerResponse) => {
    // HTTP/1.1 requests on this listener are Node's own to time out (headersTimeout, requestTimeout).
    if (request.httpVersionMajor !== 2) return;
    const timer = setTimeout(() => cutSlowRequest(request, response), readTimeoutMs);
    timer.unref();
    request.stream.once('close', () => clearTimeout(timer));
  });
}

function cutSlowRequest(request: Http2ServerRequest, response: Http2ServerResponse): void {
  const { stream } = request;
  // remoteClose: the client has sent END_STREAM, i.e. the whole request arrived.
  if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
  // Through the compatibility response, so the request log and hooks see the 408.
  if (!response.headersSent) {
    response.writeHead(408, {
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/json; charset=utf-8',
      [constants.HTTP2_HEADER_CONTENT_LENGTH]: Buffer.byteLength(BODY),
    });
    response.end(BODY);
  }
  // NO_ERROR after a complete response tells the client to stop sending (RFC 9113 section 8.1);
  // Node sends the RST_STREAM once the response is flushed.
  stream.close(constants.NGHTTP2_NO_ERROR);
}
