import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/**
 * The status logged and counted for a request whose connection (or HTTP/2 stream) the server
 * closed without answering it, at --write-timeout (nginx's 444 "connection closed without
 * response"). It is never sent: the client got nothing.
 */
export const CLOSED_WITHOUT_RESPONSE = 444;

/** What the client of a cut connection or stream got: a status sent just before, or 444. */
const cuts = new WeakMap<object, number>();

/** Records that the server cut `connection` (a socket or an HTTP/2 stream) after sending `status`. */
export function markCut(connection: object, status: number): void {
  cuts.set(connection, status);
}

/** The status the server left a request with when it cut its connection, if it did. */
export function cutStatus(raw: IncomingMessage | Http2ServerRequest): number | undefined {
  return cuts.get('stream' in raw ? raw.stream : raw.socket);
}
