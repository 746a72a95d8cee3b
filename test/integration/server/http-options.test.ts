import { connect } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { createTestServer, silentLogger } from '../../helpers/tsa.js';

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});
async function start(
  flags: Partial<Record<ServeOptionName, unknown>> = {},
  logger: FastifyBaseLogger = silentLogger,
) {
  const server = await startServer(
    resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true, ...flags }),
    logger,
  );
  running.push(server);
  return server;
}

/** Sends raw bytes on a new connection and resolves with everything received until it closes. */
function raw(url: string, data: string, { keepOpenMs = 0 } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (!keepOpenMs && received.includes('\r\n\r\n')) socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' ? resolve(received) : reject(error),
    );
    socket.on('close', () => resolve(received));
    socket.write(data);
  });
}

describe('CORS as rs/cors Default()', () => {
  it('allows any origin on simple requests', async () => {
    const { app } = await createTestServer();
    const response = await app.inject({
      method: 'GET',
      url: '/api/v1/timestamp/certchain',
      headers: { origin: 'https://example.org' },
    });
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['vary']).toContain('Origin');
    const withoutOrigin = await app.inject({ method: 'GET', url: '/ping' });
    expect(withoutOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers preflights 204 for GET/POST/HEAD and simple headers, without routing them', async () => {
    const { app } = await createTestServer();
    const preflight = (method: string, headers = '') =>
      app.inject({
        method: 'OPTIONS',
        url: '/api/v1/timestamp',
        headers: {
          origin: 'https://example.org',
          'access-control-request-method': method,
          ...(headers ? { 'access-control-request-headers': headers } : {}),
        },
      });
    const allowed = await preflight('POST', 'Content-Type');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'Content-Type',
    });
    for (const refused of [await preflight('DELETE'), await preflight('POST', 'Authorization')]) {
      expect(refused.statusCode).toBe(204);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
    // OPTIONS without Access-Control-Request-Method is not a preflight: the route answers.
    expect((await app.inject({ method: 'OPTIONS', url: '/api/v1/timestamp' })).statusCode).toBe(
      405,
    );
  });

  it('keeps preflights 204 on every path while other methods there are 405', async () => {
    const { app } = await createTestServer();
    for (const url of ['/api/v1/timestamp', '/api/v1/timestamp/certchain', '/ping', '/nowhere']) {
      const preflight = await app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: 'https://example.org', 'access-control-request-method': 'GET' },
      });
      expect(preflight.statusCode, url).toBe(204);
      expect(preflight.headers['access-control-allow-origin'], url).toBe('*');
      expect(preflight.headers.allow, url).toBeUndefined();
    }
    // TRACE is no CORS method: refused with the route's methods, and no Allow-Origin.
    const trace = await app.inject({
      method: 'TRACE',
      url: '/api/v1/timestamp',
      headers: { origin: 'https://example.org' },
    });
    expect(trace.statusCode).toBe(405);
    expect(trace.headers.allow).toBe('POST');
    expect(trace.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('listeners', () => {
  it('fails start-up when the metrics port is taken, like Go', async () => {
    const taken = await start();
    const port = Number(new URL(taken.metricsUrl).port);
    await expect(start({ metricsPort: port })).rejects.toThrow(
      new RegExp(`^--metrics-port ${port} is in use on `),
    );
  });

  it('serves metrics on --metrics-host, by default the address of --host', async () => {
    const server = await start({ host: '127.0.0.1' });
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(server.metricsUrl)).status).toBe(200);
  });
});

describe('listener limits', () => {
  it('keeps idle connections for --cleanup-timeout (620 s by default, as Go)', async () => {
    const server = await start();
    const response = await raw(server.url, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response).toContain('Keep-Alive: timeout=620');
    const shorter = await start({ cleanupTimeout: '90s' });
    expect(await raw(shorter.url, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')).toContain(
      'Keep-Alive: timeout=90',
    );
  });

  it('--cleanup-timeout 0 means --read-timeout, as Go’s IdleTimeout 0 means ReadTimeout', async () => {
    // Node's keepAliveTimeout 0 alone would keep idle connections open for ever.
    const zero = await start({ cleanupTimeout: '0s', readTimeout: '45s' });
    expect(await raw(zero.url, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')).toContain(
      'Keep-Alive: timeout=45',
    );
  });

  it('refuses headers larger than --max-header-size with 431', async () => {
    const server = await start({ maxHeaderSize: '1KiB' });
    const small = await raw(
      server.url,
      `GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(500)}\r\n\r\n`,
    );
    expect(small).toMatch(/^HTTP\/1\.1 200/);
    const large = await raw(
      server.url,
      `GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(2000)}\r\n\r\n`,
    );
    expect(large).toMatch(/^HTTP\/1\.1 431/);
  });

  it('answers 408 to a request not received within --read-timeout', async () => {
    const server = await start({ readTimeout: '1s' });
    const response = await raw(
      server.url,
      'POST /api/v1/timestamp HTTP/1.1\r\nHost: x\r\nContent-Type: application/timestamp-query\r\nContent-Length: 10\r\n\r\nab',
      {
        keepOpenMs: 1,
      },
    );
    expect(response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('accepts at most --max-connections connections per listener; says so once a minute, counts each', async () => {
    const lines: { msg: string; droppedSinceLastReport?: number }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const server = await start({ maxConnections: 1 }, logger);
    const dropped = async () =>
      Number(
        /^timestamp_authority_http_connections_dropped_total (\d+)$/m.exec(
          await (await fetch(server.metricsUrl)).text(),
        )?.[1],
      );
    const before = await dropped();
    const { hostname, port } = new URL(server.url);
    const first = connect(Number(port), hostname);
    await new Promise((resolve) => first.once('connect', resolve));
    try {
      // The second connection is accepted by the kernel and closed by the server at once.
      expect(await raw(server.url, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('');
      expect(await raw(server.url, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('');
    } finally {
      first.destroy();
    }
    expect(await dropped()).toBe(before + 2);
    expect(lines.filter((line) => line.msg.startsWith('--max-connections'))).toEqual([
      expect.objectContaining({
        msg: '--max-connections 1 reached: new connections are closed at once',
        droppedSinceLastReport: 1,
      }),
    ]);
  });
});
