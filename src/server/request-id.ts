import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/**
 * A client's request ID is taken when it is 1 to 128 visible ASCII characters (a UUID, Go's
 * `host/base62-counter`, a proxy's trace ID); anything else is replaced by a generated UUID. Go
 * takes any value, but the ID is written into every log and audit line of the request: a client
 * could otherwise make each line kilobytes long (cheap refused requests included) or reuse
 * another request's ID freely in long forged-looking values.
 */
const ACCEPTED_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** A request's ID and the response header that carries it (--http-request-id-header-name). */
export type RequestIdHeader = readonly [name: string, id: string];

/** Each request's, for the answers written outside Fastify's hooks (the 408s of --read-timeout). */
const ids = new WeakMap<IncomingMessage | Http2ServerRequest, RequestIdHeader>();

/** Fastify's genReqId for --http-request-id-header-name (`header`, lower-case). */
export function requestIdFrom(header: string) {
  return (request: IncomingMessage | Http2ServerRequest): string => {
    const given = request.headers[header];
    const id = typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
    ids.set(request, [header, id]);
    return id;
  };
}

/**
 * The header requestIdFrom gave `request`, if Fastify asked for its ID: a token
 * (config/http-names.ts) and visible ASCII, which nothing written raw takes for the header's end.
 */
export const requestIdHeaderOf = (
  request: IncomingMessage | Http2ServerRequest,
): RequestIdHeader | undefined => ids.get(request);
