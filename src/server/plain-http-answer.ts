import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Go's net/http answer to a plain HTTP request on its HTTPS port, byte for byte. */
export const PLAIN_HTTP_ANSWER =
  'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** What OpenSSL (through Node) calls a handshake whose first record is an HTTP request line. */
const PLAIN_HTTP_CODE = 'ERR_SSL_HTTP_REQUEST';

/**
 * Answers plain HTTP sent to the HTTPS port as Go's server does, so that a client configured with
 * http:// for the TLS port reads why, instead of a closed connection. The answer is written to
 * the TCP socket under the failed TLS one, which Node keeps as `_parent` (not a public API:
 * where it is missing, the connection is closed as before).
 */
export function answerPlainHttp(server: Server): void {
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (error.code !== PLAIN_HTTP_CODE) return;
    const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
    if (!tcp || tcp.destroyed || !tcp.writable) return;
    tcp.on('error', () => {});
    tcp.end(PLAIN_HTTP_ANSWER);
  });
}
