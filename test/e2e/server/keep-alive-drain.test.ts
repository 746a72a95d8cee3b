import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedTls } from '../../fakes/tls.js';
import { tempDir } from '../../helpers/openssl.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-server.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

/**
 * A drain ends once the requests in flight are answered, whatever their connections: an HTTP/1.1
 * client that keeps its connection open after the answer (a load balancer's pool, Go's
 * http.Client) is told `Connection: close` and the server closes the connection, as Go's
 * Server.Shutdown does. Before, Node armed its keep-alive timer (--cleanup-timeout) on it, so every
 * such drain ran the whole --graceful-timeout and then logged that requests "did not finish".
 * The graceful timeout here is an hour: a drain that waited for it would time the test out.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once the server has logged `count` lines containing `text`. */
async function logged(server: SpawnedServer, text: string, count = 1): Promise<void> {
  while (server.lines.filter((line) => line.includes(text)).length < count) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A keep-alive POST on `socket` whose body is sent in two parts. `answer` resolves with the
 * response head once it has come; `closed` once the server has closed the connection (the client
 * never closes it: it would keep it for its next request).
 */
function keepAliveRequest(socket: Socket) {
  const body = helloTimeStampReq();
  let received = '';
  const answer = new Promise<string>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end !== -1) resolve(received.slice(0, end));
    }),
  );
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return {
    answer,
    closed,
    sendFirstPart: () => {
      socket.write(
        `POST /api/v1/timestamp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Type: application/timestamp-query\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 20));
    },
    sendRest: () => socket.write(body.subarray(20)),
  };
}

async function plainConnection(server: SpawnedServer): Promise<Socket> {
  const { hostname, port } = new URL(server.url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

async function tlsConnection(server: SpawnedServer): Promise<Socket> {
  const { hostname, port } = new URL(server.tlsUrl ?? '');
  const socket = connectTls({
    host: hostname,
    port: Number(port),
    rejectUnauthorized: false,
    ALPNProtocols: ['http/1.1'],
  });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  return socket;
}

function tlsArguments(): string[] {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const { cert, key } = selfSignedTls();
  return [
    '--tls-port',
    '0',
    '--tls-certificate',
    dir.write('tls.crt', cert),
    '--tls-key',
    dir.write('tls.key', key),
  ];
}

const cases = [
  { name: 'one process', args: () => [], workers: 0, open: plainConnection },
  {
    name: '--workers 2',
    args: () => ['--workers', '2'],
    workers: 2,
    open: plainConnection,
  },
  { name: 'HTTPS listener, HTTP/1.1', args: tlsArguments, workers: 0, open: tlsConnection },
] as const;

describe('a drain with a keep-alive client', () => {
  for (const { name, args, workers, open } of cases) {
    it(`${name}: the in-flight request is answered with Connection: close, the server closes the connection, and the drain ends then`, async () => {
      const server = await spawnServer(['--graceful-timeout', '1h', ...args()]);
      cleanups.push(() => {
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
      });
      const request = keepAliveRequest(await open(server));
      request.sendFirstPart();
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);

      server.child.kill('SIGTERM');
      await logged(server, 'received SIGTERM, draining');
      // Each worker drains on the primary's word.
      if (workers > 0) await logged(server, 'asked by the primary, draining', workers);
      request.sendRest();

      const head = await request.answer;
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head).toMatch(/\r\nconnection: close\r\n/i);
      await request.closed;
      expect(await server.exited).toBe(0);
      expect(server.lines.some((line) => line.includes('did not finish within'))).toBe(false);
    });
  }
});
