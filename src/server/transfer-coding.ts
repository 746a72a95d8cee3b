import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/**
 * Answered with 400. Go's net/http answers 501 "Unsupported transfer encoding", as RFC 9112
 * section 6.1 suggests; here every refusal of what a client sent is a 4xx, so that a 5xx always
 * means the server's own failure, logged at ERROR.
 */
export const UNSUPPORTED_TRANSFER_CODING_MESSAGE = 'unsupported transfer encoding';

/**
 * Whether an HTTP/1.x request's body comes in a transfer coding other than chunked alone
 * (`gzip, chunked`...): Node's parser removes the chunked framing and hands over the rest as it
 * came, a body no handler can read, and would keep the connection for what follows it. HTTP/2 has
 * no Transfer-Encoding.
 */
export function unsupportedTransferCoding(request: IncomingMessage | Http2ServerRequest): boolean {
  const coding = request.headers['transfer-encoding'];
  return coding !== undefined && coding.trim().toLowerCase() !== 'chunked';
}
