import type { FastifyInstance } from 'fastify';
import { sendGoError } from './http-outcome.js';

/** RFC 9113 section 6.5.2: each field counts its name's and value's octets plus 32. */
const FIELD_OVERHEAD = 32;

/**
 * The size of a header list as HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE counts it, from Node's
 * rawHeaders (name, value, name, value..., pseudo-headers included). Node hands HTTP/2 header
 * octets over as one-byte strings, so a string's length is its octets.
 */
export function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (const part of rawHeaders) size += part.length;
  return size + (rawHeaders.length / 2) * FIELD_OVERHEAD;
}

/**
 * --max-header-size for HTTP/2 requests, answered 431 as HTTP/1.1's parser answers it. Node
 * advertises the limit as SETTINGS_MAX_HEADER_LIST_SIZE but lets a larger header list through.
 * Only for the HTTPS listener, whose every request (HTTP/1.1 too) pays one more hook; the
 * plain-HTTP listener has none.
 */
export function enforceHttp2HeaderLimit(app: FastifyInstance, maxHeaderSize: number): void {
  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const { raw } = request;
    if (raw.httpVersionMajor !== 2 || headerListSize(raw.rawHeaders) <= maxHeaderSize) {
      return done();
    }
    // Answered here: the route is never reached (done() is not called).
    sendGoError(reply, 431, `request headers are larger than ${maxHeaderSize} bytes`);
  });
}
