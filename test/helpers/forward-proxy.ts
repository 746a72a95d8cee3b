import { createServer, request as httpRequest } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** Where a host that a forwarded request or a CONNECT names is: a port of 127.0.0.1, or unknown. */
export type Route = (host: string) => number | undefined;

/**
 * A forward proxy on 127.0.0.1 that records what it receives: absolute-form requests (an http://
 * URL), forwarded; CONNECT requests (https://), tunnelled; each to where `route` says the host is
 * (502 where it does not know). It is the only one that knows where the test's names are.
 */
export async function startForwardProxy(route: Route) {
  const forwarded: string[] = [];
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    forwarded.push(`${request.method} ${request.url}`);
    const target = new URL(request.url ?? '');
    const port = route(target.hostname);
    if (port === undefined) {
      response.writeHead(502).end();
      return;
    }
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: target.pathname,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    request.pipe(upstream);
  });
  server.on('connect', (request, client: Socket, head: Buffer) => {
    tunnels.push(`${request.method} ${request.url}`);
    sockets.add(client);
    const [host = '', port = ''] = (request.url ?? '').split(':');
    const to = route(host);
    if (to === undefined || port === '') {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = connect(to, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    tunnels,
    reset: () => {
      forwarded.length = 0;
      tunnels.length = 0;
    },
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
