import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { goErrorJson, JSON_TYPE } from './http-outcome.js';
import { requestIdHeaderOf } from './request-id.js';
import { CLOSED_WITHOUT_RESPONSE, markCut } from './server-cuts.js';
import { UNSUPPORTED_TRANSFER_CODING_MESSAGE } from './transfer-coding.js';

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
    // A transfer coding not ending in chunked: a body of no known length.
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return [400, UNSUPPORTED_TRANSFER_CODING_MESSAGE];
    default:
      return [400, 'malformed HTTP request'];
  }
}

/** The parser's error: `code` (`HPE_INVALID_METHOD`...) and, for parse errors, `reason`. */
export type ClientError = Error & { code?: string; reason?: string };

/**
 * Told of a request refused before Node made a request of it (no request to log or count through
 * the hooks): bad syntax, headers over --max-header-size, headers not received within
 * --read-timeout.
 */
export type UnparsedRequestListener = (status: number, error: ClientError, socket: Socket) => void;

/** The response on the socket, from Node's HTTP server (its own clientError fallback reads it). */
function responseInFlight(socket: Socket): ServerResponse | null | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
}

/** The request whose headers Node's parser read last on the socket, while it is still current. */
function requestArriving(socket: Socket): IncomingMessage | null | undefined {
  return (socket as Socket & { parser?: { incoming?: IncomingMessage | null } | null }).parser
    ?.incoming;
}

/**
 * How much of a body its handler left unread Go's net/http reads away to keep the connection
 * (maxPostHandlerReadBytes); more, and it closes the connection instead.
 */
const MAX_BODY_READ_AWAY = 256 * 1024;

/**
 * Whether answering `request` now leaves more of its body unread on its HTTP/1.x connection than
 * Go would read away (a Content-Length over 256 KiB, or chunked: of unknown length): kept alive,
 * Node would read and discard all of it, however large, until --read-timeout. Such an answer must
 * close the connection, as Go's does. A bodyless request may not be `complete` yet either; HTTP/2
 * has no Connection header, and a stream's body has its limits.
 */
export function leavesLargeBodyUnread(request: IncomingMessage | Http2ServerRequest): boolean {
  if (request.complete !== false || request.httpVersionMajor !== 1) return false;
  const { headers } = request;
  if (headers['transfer-encoding'] !== undefined) return true;
  return Number(headers['content-length'] ?? 0) > MAX_BODY_READ_AWAY;
}

/**
 * The HTTP version of a request Node's HTTP/1.1 parser took though it is not HTTP/1.x: a request
 * line without a version (HTTP/0.9, which Node reports as 0.9) or `HTTP/2.0` on a connection that
 * does not speak HTTP/2. Go refuses them (400, 505); undefined for an HTTP/1.x request or a stream
 * of the HTTP/2 listener.
 */
export function unsupportedHttpVersion(
  request: IncomingMessage | Http2ServerRequest,
): string | undefined {
  if (request.httpVersionMajor === 1 || 'stream' in request) return undefined;
  return `HTTP/${request.httpVersion}`;
}

/**
 * Whether a request-target's path holds a `#`: a request-target has no fragment (RFC 9112 section
 * 3.2), so Go reads it as part of the path, which no route has (404); Node's router dropped it and
 * served `POST /api/v1/timestamp#x` as a timestamp request. In the query it is the query's.
 */
export function fragmentInPath(url: string | undefined): boolean {
  const hash = url?.indexOf('#') ?? -1;
  if (hash < 0) return false;
  const query = (url as string).indexOf('?');
  return query < 0 || hash < query;
}

/**
 * Fastify's clientErrorHandler: what Node's HTTP/1.1 parser refuses (malformed, headers over
 * --max-header-size) and a request not received within --read-timeout get the Go JSON body, then
 * the connection is closed, as Fastify's own handler does. A request in flight on the connection
 * (a body that stopped arriving) is logged and counted with the status sent, not as 499, by its own
 * hooks; with none, `onUnparsed` is told.
 *
 * A malformed request pipelined behind requests that arrived whole (in the same write, say) is
 * refused once their answers are sent, in order, as Go answers pipelined requests; Node's own
 * fallback would write the refusal in place of the first answer, which its client never got. A
 * parse error stops Node's parser: nothing after it becomes a request. While the answers are
 * pending the connection keeps its timeouts: --write-timeout cuts a silent one (its request is
 * logged 444), and --read-timeout, which Node counts from the malformed request's first byte,
 * answers 408 in place of an answer not begun, as for a request arriving too slowly.
 */
export function clientErrorHandler(maxHeaderSize: number, onUnparsed: UnparsedRequestListener) {
  /** Connections whose parse error waits for the answers before it. */
  const waiting = new WeakSet<Socket>();

  const refuse = (error: ClientError, socket: Socket): void => {
    if (socket.destroyed) return;
    const [status, message] = answerFor(error.code, maxHeaderSize);
    const response = responseInFlight(socket);
    // The request still arriving was answered already (an early answer whose body is read away,
    // or is being sent): its client gets no second response, and it was no unparsed request.
    const arriving = requestArriving(socket);
    if (
      arriving?.complete === false &&
      (!response || (response.req === arriving && response.writableEnded))
    ) {
      socket.destroy(error);
      return;
    }
    if (response && response.req.complete && error.code?.startsWith('HPE_')) {
      refuseAfter(response, error, socket);
      return;
    }
    // A response already under way (a pipelined request's) must not be cut into, as Node's own
    // fallback: its client gets nothing more.
    const answering = socket.writable && !response?.headersSent;
    const sent = answering ? status : CLOSED_WITHOUT_RESPONSE;
    // The client closed its side mid-request: its abort (499), whatever it may still read.
    if (error.code !== 'HPE_INVALID_EOF_STATE') markCut(socket, sent);
    if (!response || response.writableEnded) onUnparsed(sent, error, socket);
    if (answering) {
      const body = goErrorJson(status, message);
      // In place of a request's own answer (its body stopped arriving): its ID, as every answer.
      const id = response && !response.writableEnded ? requestIdHeaderOf(response.req) : undefined;
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
          (id === undefined ? '' : `${id[0]}: ${id[1]}\r\n`) +
          `Content-Type: ${JSON_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };

  /**
   * Refuses once `response` (of a request that arrived whole) is sent: then the next pipelined
   * answer, if any, is waited for in turn. A connection closed meanwhile (cut by --write-timeout,
   * or by its client) never sent the refusal.
   */
  const refuseAfter = (response: ServerResponse, error: ClientError, socket: Socket): void => {
    waiting.add(socket);
    const closed = () => onUnparsed(CLOSED_WITHOUT_RESPONSE, error, socket);
    socket.once('close', closed);
    // After Node's own listener, which hands the connection to the next pipelined response.
    response.once('finish', () => {
      socket.off('close', closed);
      waiting.delete(socket);
      refuse(error, socket);
    });
  };

  return (error: ClientError, socket: Socket): void => {
    // A TLS connection whose handshake did not end within --read-timeout (a TCP check, a scanner)
    // never sent a request: an HTTP answer would reach no one, and it was no 400.
    if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      socket.destroy();
      return;
    }
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // Node's parser repeats its error for whatever arrives after it; a read deadline still cuts.
    if (waiting.has(socket) && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return;
    refuse(error, socket);
  };
}
