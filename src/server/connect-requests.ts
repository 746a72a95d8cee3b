import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * Routes CONNECT requests like any other, as Go's router does: 405 with Allow on a known path, 404
 * elsewhere (`CONNECT host:443` has no path), answered, logged and counted by the usual hooks.
 * Node hands a CONNECT to a 'connect' listener instead of routing it: with none, it closed an
 * HTTP/1.1 connection without an answer, a log line or a count, and answered an HTTP/2 stream a
 * bare 405. We are no proxy: the answer closes the HTTP/1.1 connection, and what the client sent
 * after the request (the tunnel's first bytes) is never read.
 */
export function routeConnectRequests(server: Server | Http2SecureServer): void {
  server.on(
    'connect',
    (request: IncomingMessage | Http2ServerRequest, target: Socket | Http2ServerResponse): void => {
      // HTTP/2: a stream with its response, as any request (Node's compat layer).
      if ('stream' in target) {
        server.emit('request', request, target);
        return;
      }
      // HTTP/1.1: Node gave the connection up, its error and timeout listeners with it.
      const socket = target;
      socket.on('error', () => socket.destroy());
      const response = new ServerResponse(request as IncomingMessage);
      response.shouldKeepAlive = false;
      response.assignSocket(socket);
      response.once('finish', () => {
        response.detachSocket(socket);
        socket.destroySoon();
      });
      response.once('close', () => socket.destroy());
      server.emit('request', request, response);
    },
  );
}
