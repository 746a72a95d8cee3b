import type { IncomingMessage } from 'node:http';
import { Socket, type Server } from 'node:net';
import { CLOSED_WITHOUT_RESPONSE, markCut } from './server-cuts.js';

/** What Node's HTTP/1.1 server keeps on a connection's socket (its own socketOnTimeout reads it). */
interface HttpConnection extends Socket {
  parser?: { incoming?: IncomingMessage | null } | null;
}

/**
 * Whether the request on an HTTP/1.1 connection is still arriving, so that a read deadline (Node's
 * requestTimeout, or its headersTimeout, which is never 0) will answer it with 408: its body is
 * incomplete, or the connection has answered nothing yet and its first request's headers are not
 * all in. A connection Node does not parse (or no longer) is not.
 */
export function requestArriving(socket: HttpConnection, requestTimeoutMs: number): boolean {
  const parser = socket.parser;
  if (!parser) return false;
  const incoming = parser.incoming;
  if (incoming) return !incoming.complete && requestTimeoutMs > 0;
  return socket.bytesWritten === 0;
}

/**
 * The socket inactivity timeout (--write-timeout) of an HTTP server. A connection whose request is
 * still arriving is left to --read-timeout, which answers 408: Node checks that deadline once a
 * second, so with equal timeouts the inactivity timer used to close the connection first, and the
 * client got nothing. Any other connection is closed, as Node would (HTTP/2 sessions included),
 * and a request in flight on it is recorded as cut (444), not as aborted by its client (499).
 */
export function closeInactiveConnections(server: Server, requestTimeoutMs: number): void {
  server.on('timeout', (connection: Socket | { destroy(): void }) => {
    if (connection instanceof Socket) {
      if (requestArriving(connection, requestTimeoutMs)) return;
      markCut(connection, CLOSED_WITHOUT_RESPONSE);
    }
    connection.destroy();
  });
}
