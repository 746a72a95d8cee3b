import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PAGE_BODY } from './faults.js';

export type Handler = (
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
) => Promise<unknown> | unknown;

/** A local HTTP(S) server on 127.0.0.1, ephemeral port, that closes its hanging connections on stop. */
export async function listen(
  handler: Handler,
  tls?: { key: string; cert: string },
): Promise<{ server: Server; port: number; origin: string; close: () => Promise<void> }> {
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      Promise.resolve(handler(request, Buffer.concat(chunks), response)).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(String(error));
      });
    });
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(value));
}

/**
 * Resets the request's TCP connection (RST, the client sees ECONNRESET). Under TLS the request's
 * socket wraps the TCP socket (`_parent`), and only a TCP socket can be reset.
 */
/** A proxy's or captive portal's answer in the service's place: 200 and an HTML page. */
export function sendPage(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_BODY);
}

export function resetConnection(request: IncomingMessage): void {
  const socket = request.socket as IncomingMessage['socket'] & {
    _parent?: IncomingMessage['socket'];
  };
  (socket._parent ?? socket).resetAndDestroy();
}
