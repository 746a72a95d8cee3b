import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { markCut } from './server-cuts.js';

/** The HTTP/2 listener's 408 body (http2-stream-timeouts.ts) says the same. */
export const READ_TIMEOUT_MESSAGE = 'request not received within the read timeout';

function answerFor(code: string | undefined, maxHeaderSize: number): [number, string] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, READ_TIMEOUT_MESSAGE];
    case 'HPE_HEADER_OVERFLOW':
      return [431, `request headers are larger than ${maxHeaderSize} bytes`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'chunk extensions are too large'];
    default:
      return [400, 'malformed HTTP request'];
  }
}

/**
 * Fastify's clientErrorHandler: what Node's HTTP/1.1 parser refuses (malformed, headers over
 * --max-header-size) and a request not received within --read-timeout get the Go JSON body, then
 * the connection is closed, as Fastify's own handler does. A request in flight on the connection
 * (a body that stopped arriving) is logged and counted with the status sent, not as 499.
 */
export function clientErrorHandler(maxHeaderSize: number) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, message] = answerFor(error.code, maxHeaderSize);
    // The client closed its side mid-request: its abort (499), whatever it may still read.
    if (error.code !== 'HPE_INVALID_EOF_STATE') markCut(socket, status);
    if (socket.writable) {
      const body = JSON.stringify({ code: status, message });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
