import { connect as connectHttp2 } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { logSink } from '../../helpers/log-sink.js';
import { selfSignedTlsListener, startedServers } from '../../helpers/started-servers.js';
import { openHttps1, sendAndWait, watch } from '../../helpers/slow-client.js';
import { tempDir } from '../../helpers/openssl.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { growthFromNow } from '../../helpers/metric-growth.js';

/**
 * Request lines Node's HTTP/1.1 parser takes and Go's server refuses or routes otherwise: CONNECT
 * (Node hands it to a 'connect' listener, not to the router), no HTTP version or HTTP/2.0 on an
 * HTTP/1.1 connection, a `#` in the path. Each gets Go's status with the JSON body, one log line
 * and a count, and the server goes on serving.
 */
const { sink, records } = logSink();
const start = startedServers(sink);

/** The request log's lines from now on: status, method and URL. */
function requestLinesFromNow() {
  const before = records().length;
  return () =>
    records()
      .slice(before)
      .map(({ statusCode, method, url }) => ({ statusCode, method, url }));
}

/** The body after the head of the first answer in `received`. */
const bodyOf = (received: string) => received.slice(received.indexOf('\r\n\r\n') + 4);

describe('a CONNECT request', () => {
  it('to a host (authority form) is answered 404, logged and counted, the connection closed, the tunnel bytes unread', async () => {
    const server = await start();
    const lines = requestLinesFromNow();
    const requests = await growthFromNow(
      server.metricsUrl,
      'timestamp_authority_http_requests_total',
    );
    // Was: the connection closed without an answer, a log line or a count.
    const received = await sendAndWait(
      server.url,
      'CONNECT tsa.example:443 HTTP/1.1\r\nHost: tsa.example:443\r\n\r\n' +
        'GET /ping HTTP/1.1\r\nHost: tsa\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
    expect(JSON.parse(bodyOf(received))).toEqual({
      code: 404,
      message: 'path tsa.example:443 was not found',
    });
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([{ statusCode: 404, method: 'CONNECT', url: 'tsa.example:443' }]);
    expect(await requests()).toEqual({ '404': 1 });
    // Still serving.
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it('to a path of ours is answered 405 with Allow, as Go routes it', async () => {
    const server = await start();
    const received = await sendAndWait(
      server.url,
      'CONNECT /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 405 /);
    expect(received).toMatch(/\r\nallow: POST\r\n/i);
    expect(JSON.parse(bodyOf(received))).toEqual({
      code: 405,
      message: 'method CONNECT is not allowed, but [POST] are',
    });
  });

  it('is routed the same on the HTTPS listener, over HTTP/1.1 and as an HTTP/2 stream', async () => {
    const dir = tempDir();
    try {
      const tls = selfSignedTlsListener(dir);
      const server = await start(tls.flags);
      const lines = requestLinesFromNow();

      const socket = await openHttps1(server.tlsUrl ?? '', tls.ca);
      const connection = watch(socket);
      socket.write('CONNECT /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n\r\n');
      expect((await connection.closed).received).toMatch(/^HTTP\/1\.1 405 /);

      // Node answered a bare 405 with no log line.
      const session = connectHttp2(server.tlsUrl ?? '', { ca: tls.ca });
      try {
        const stream = session.request({ ':method': 'CONNECT', ':authority': 'tsa.example:443' });
        const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
          let status = 0;
          let body = '';
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
          stream.on('end', () => resolve([status, body]));
          stream.on('error', reject);
        });
        expect(status).toBe(404);
        expect(JSON.parse(body)).toMatchObject({ code: 404 });
      } finally {
        session.close();
      }
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([
          { statusCode: 405, method: 'CONNECT', url: '/api/v1/timestamp' },
          expect.objectContaining({ statusCode: 404, method: 'CONNECT' }),
        ]);
    } finally {
      dir.cleanup();
    }
  });
});

describe('a request line that is not HTTP/1.x', () => {
  // Not /ping: health probes have no request line.
  const CERTCHAIN = '/api/v1/timestamp/certchain';
  it.each([
    ['with no version (HTTP/0.9)', `GET ${CERTCHAIN}\r\n\r\n`, 'HTTP/0.9'],
    [
      'HTTP/2.0 on an HTTP/1.1 connection',
      `GET ${CERTCHAIN} HTTP/2.0\r\nHost: t\r\n\r\n`,
      'HTTP/2.0',
    ],
  ])('%s is refused 400, logged and counted, the connection closed', async (_, line, version) => {
    const server = await start();
    const lines = requestLinesFromNow();
    const requests = await growthFromNow(
      server.metricsUrl,
      'timestamp_authority_http_requests_total',
    );
    // Was: served (Go: 400 without a version, 505 for HTTP/2.0).
    const received = await sendAndWait(server.url, line);
    expect(received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(bodyOf(received))).toEqual({
      code: 400,
      message: `${version} is not supported`,
    });
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([{ statusCode: 400, method: 'GET', url: CERTCHAIN }]);
    expect(await requests()).toEqual({ '400': 1 });
  });

  it('HTTP/1.0 is still served', async () => {
    const server = await start();
    expect(await sendAndWait(server.url, 'GET /ping HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('a # in the request-target', () => {
  it("is part of the path, as Go reads it: no route has it (404), the timestamp route's included", async () => {
    const server = await start();
    // Was: Node's router dropped '#x' and issued a token.
    const received = await sendAndWait(
      server.url,
      'POST /api/v1/timestamp#x HTTP/1.1\r\nHost: tsa\r\nContent-Type: application/timestamp-query\r\n' +
        'Content-Length: 0\r\nConnection: close\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 404 /);
    expect(JSON.parse(bodyOf(received))).toEqual({
      code: 404,
      message: 'path /api/v1/timestamp#x was not found',
    });
  });

  it('in the query is the query’s: the route is served', async () => {
    const server = await start();
    const received = await sendAndWait(
      server.url,
      'GET /ping?probe=1#x HTTP/1.1\r\nHost: tsa\r\nConnection: close\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
  });
});
