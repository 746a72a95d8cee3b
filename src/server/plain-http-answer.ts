import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { handshakeFailure } from './tls-handshake-failures.js';

/** Go's net/http answer to a plain HTTP request on its HTTPS port, byte for byte. */
export const PLAIN_HTTP_ANSWER =
  'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/**
 * Answers plain HTTP sent to the HTTPS port as Go's server does, so that a client configured with
 * http:// for the TLS port reads why, instead of a closed connection. The answer is written to
 * the TCP socket under the failed TLS one, which Node keeps as `_parent` (not a public API:
 * where it is missing, the connection is closed as before).
 */
export function answerPlainHttp(server: Server): void {
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // Plain HTTP as OpenSSL knows it: a first record beginning GET, POST, HEAD or PUT.
    if (handshakeFailure(error.code) !== 'plain_http') return;
    const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
    if (!tcp || tcp.destroyed || !tcp.writable) return;
    tcp.on('error', () => {});
    tcp.end(PLAIN_HTTP_ANSWER);
  });
}
