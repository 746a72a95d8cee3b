import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/runtime/serve.js';
import { logSink } from '../../helpers/log-sink.js';
import { selfSignedTlsListener, startedServers } from '../../helpers/started-servers.js';
import {
  type Observed,
  open,
  openHttps1,
  sendAndWait,
  timestampHeaders,
  watch,
} from '../../helpers/slow-client.js';
import { tempDir } from '../../helpers/openssl.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { growthFromNow } from '../../helpers/metric-growth.js';

/**
 * Requests Node's HTTP/1.1 parser refuses before a request exists (bad syntax, headers over
 * --max-header-size, headers not received within --read-timeout): each gets the Go JSON body, one
 * log line and a count in timestamp_authority_http_unparsed_requests_total, never its bytes in the
 * log. A request in flight when its connection fails is logged and counted by its own hooks only.
 */
const { sink, records } = logSink();
const start = startedServers(sink);

/** Log lines from now on, with what the parser's lines carry. */
function linesFromNow() {
  const before = records().length;
  return () =>
    records()
      .slice(before)
      .map(({ severity, message, statusCode, reason, remoteAddress, url }) => ({
        severity,
        message,
        statusCode,
        reason,
        remoteAddress,
        url,
      }));
}

describe('a request the HTTP parser refuses', () => {
  it('is answered 400, logged once without its bytes, and counted', async () => {
    const server = await start();
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const received = await sendAndWait(
      server.url,
      'GET /ping HTTP/1.1\r\nHost: tsa\r\nAuthorization: Bearer s3cret-token\r\nBad Header\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(received).toContain('{"code":400,"message":"malformed HTTP request"}');
    await expect.poll(lines, UNTIL_SETTLED).toEqual([
      {
        severity: 'WARN',
        message: 'request rejected',
        statusCode: 400,
        reason: expect.stringMatching(/^HPE_\w+: \w/),
        remoteAddress: '127.0.0.1',
        url: undefined,
      },
    ]);
    expect(JSON.stringify(records())).not.toContain('s3cret');
    expect(await unparsed()).toEqual({ '400': 1 });
  });

  it('with headers over --max-header-size is answered 431, logged and counted as 431', async () => {
    const server = await start({ maxHeaderSize: '1KiB' });
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const received = await sendAndWait(
      server.url,
      `GET /ping HTTP/1.1\r\nHost: tsa\r\nX-Pad: ${'a'.repeat(2000)}\r\n\r\n`,
    );
    expect(received).toMatch(/^HTTP\/1\.1 431 /);
    await expect.poll(lines, UNTIL_SETTLED).toEqual([
      expect.objectContaining({
        statusCode: 431,
        reason: expect.stringMatching(/^HPE_HEADER_OVERFLOW/),
      }),
    ]);
    expect(await unparsed()).toEqual({ '431': 1 });
  });

  it('whose headers stop arriving is answered 408, logged as timed out and counted', async () => {
    const server = await start({ readTimeout: '300ms' });
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const requests = await growthFromNow(
      server.metricsUrl,
      'timestamp_authority_http_requests_total',
    );
    const received = await sendAndWait(server.url, 'POST /api/v1/timestamp HTTP/1.1\r\nHost: t');
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    await expect.poll(lines, UNTIL_SETTLED).toEqual([
      expect.objectContaining({
        severity: 'WARN',
        message: 'request timed out',
        statusCode: 408,
        reason: 'ERR_HTTP_REQUEST_TIMEOUT',
      }),
    ]);
    expect(await unparsed()).toEqual({ '408': 1 });
    // No request existed: the request counter has nothing to say about it.
    expect(await requests()).toEqual({});
  });

  it('after an answered request on a kept-alive connection is reported on its own', async () => {
    const server = await start();
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const connection = watch(await open(server.url));
    const body = helloTimeStampReq();
    connection.socket.write(timestampHeaders(body.length));
    connection.socket.write(body);
    await expect.poll(() => connection.received(), UNTIL_SETTLED).toMatch(/^HTTP\/1\.1 200 /);
    await expect.poll(lines, UNTIL_SETTLED).toHaveLength(1);
    connection.socket.write('NOT-A-METHOD / HTTP/1.1\r\n\r\n');
    const { received } = await connection.closed;
    expect(received).toMatch(/HTTP\/1\.1 400 Bad Request\r\n/);
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([
        expect.objectContaining({ statusCode: 200, url: '/api/v1/timestamp' }),
        expect.objectContaining({ statusCode: 400, message: 'request rejected' }),
      ]);
    expect(await unparsed()).toEqual({ '400': 1 });
  });
});

describe('a malformed request pipelined behind whole ones', () => {
  it('is refused after their answers, in order, as Go answers pipelined requests', async () => {
    const server = await start();
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const requests = await growthFromNow(
      server.metricsUrl,
      'timestamp_authority_http_requests_total',
    );
    const body = helloTimeStampReq();
    const whole = Buffer.concat([Buffer.from(timestampHeaders(body.length)), body]);
    // All in one write; what follows the malformed request is never read as a request.
    const connection = watch(await open(server.url));
    connection.socket.write(
      Buffer.concat([
        whole,
        whole,
        Buffer.from('BOGUS\r\n\r\nGET /ping HTTP/1.1\r\nHost: tsa\r\n\r\n'),
      ]),
    );
    const { received } = await connection.closed;
    // Node's own order answered the 400 in place of the first token, which was lost.
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual([
      'HTTP/1.1 200 ',
      'HTTP/1.1 200 ',
      'HTTP/1.1 400 ',
    ]);
    expect(received.endsWith('\r\n\r\n{"code":400,"message":"malformed HTTP request"}')).toBe(true);
    await expect.poll(lines, UNTIL_SETTLED).toEqual([
      expect.objectContaining({ statusCode: 200, url: '/api/v1/timestamp' }),
      expect.objectContaining({ statusCode: 200, url: '/api/v1/timestamp' }),
      expect.objectContaining({
        statusCode: 400,
        url: undefined,
        reason: expect.stringMatching(/^HPE_/),
      }),
    ]);
    expect(await unparsed()).toEqual({ '400': 1 });
    expect(await requests()).toEqual({ '200': 2 });
  });
});

/**
 * An HTTP/1.1 request without Host (RFC 9112 section 3.2): Node's own check answered it on the
 * plain-HTTP listener with a bare 400 before any request existed (no log line, no count, and a
 * body then read as the next request); the HTTPS listener's HTTP/1.1 served it.
 */
describe('an HTTP/1.1 request without Host', () => {
  // Not /ping: health probes have no request line.
  const HOSTLESS = 'GET /api/v1/timestamp/certchain HTTP/1.1\r\nX: y\r\n\r\n';

  it.each(['plain HTTP', 'HTTPS'])(
    'is answered 400 "missing required Host header" on the %s listener, logged, counted, the connection closed',
    async (listener) => {
      const dir = tempDir();
      try {
        const tls = selfSignedTlsListener(dir);
        const server = await start(tls.flags);
        const lines = linesFromNow();
        const unparsed = await growthFromNow(server.metricsUrl);
        const requests = await growthFromNow(
          server.metricsUrl,
          'timestamp_authority_http_requests_total',
        );
        const connection = watch(
          listener === 'HTTPS'
            ? await openHttps1(server.tlsUrl ?? '', tls.ca)
            : await open(server.url),
        );
        connection.socket.write(HOSTLESS);
        const { received } = await connection.closed;
        expect(received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
        expect(received).toMatch(/\r\nconnection: close\r\n/i);
        expect(received).toMatch(/\r\nx-request-id: [\w-]+\r\n/i);
        expect(
          received.endsWith('\r\n\r\n{"code":400,"message":"missing required Host header"}'),
        ).toBe(true);
        await expect.poll(lines, UNTIL_SETTLED).toEqual([
          expect.objectContaining({
            statusCode: 400,
            url: '/api/v1/timestamp/certchain',
            // A request line (with its URL and its answer's message), not an unparsed one's.
            reason: 'missing required Host header',
          }),
        ]);
        expect(await requests()).toEqual({ '400': 1 });
        expect(await unparsed()).toEqual({});
      } finally {
        dir.cleanup();
      }
    },
  );

  it('does not have its body read as the next request', async () => {
    const server = await start();
    const smuggled = 'GET /ping HTTP/1.1\r\nHost: tsa\r\n\r\n';
    const received = await sendAndWait(
      server.url,
      `POST /api/v1/timestamp HTTP/1.1\r\nContent-Type: application/timestamp-query\r\n` +
        `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    );
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 400 ']);
  });

  it('is served over HTTP/1.0, which may leave Host out (as in Go)', async () => {
    const server = await start();
    const received = await sendAndWait(server.url, 'GET /ping HTTP/1.0\r\n\r\n');
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
  });
});

/**
 * Two Host headers, or one no host[:port] could be (RFC 9112 section 3.2: 400): Node kept the
 * first of two and took any octets, and every route served them 200. Go refuses both, before any
 * handler, with the connection closed.
 */
describe('an HTTP/1.x request with two Host headers or a malformed one', () => {
  it.each([
    ['two Host headers', 'HTTP/1.1', 'Host: tsa\r\nhost: tsa\r\n', 'too many Host headers'],
    ['two Host headers (HTTP/1.0)', 'HTTP/1.0', 'Host: a\r\nHost: b\r\n', 'too many Host headers'],
    ['a Host with a space', 'HTTP/1.1', 'Host: a b\r\n', 'malformed Host header'],
    ['a Host with a quote', 'HTTP/1.1', 'Host: tsa"><x\r\n', 'malformed Host header'],
  ])(
    'is answered 400 as Go answers %s, on every route, logged, counted, the connection closed',
    async (_what, version, hosts, message) => {
      const server = await start();
      const lines = linesFromNow();
      const requests = await growthFromNow(
        server.metricsUrl,
        'timestamp_authority_http_requests_total',
      );
      // Refused before it is read: any bytes.
      const body = '0123456789';
      const answers = [];
      for (const head of [
        'GET /api/v1/timestamp/certchain',
        'GET /nowhere',
        `POST /api/v1/timestamp ${version}\r\nContent-Type: application/timestamp-query\r\nContent-Length: ${body.length}`,
      ]) {
        const [requestLine, ...fields] = head.split('\r\n');
        const line = requestLine!.includes(' HTTP/') ? requestLine : `${requestLine} ${version}`;
        const received = await sendAndWait(
          server.url,
          `${line}\r\n${hosts}${fields.map((field) => `${field}\r\n`).join('')}\r\n` +
            (head.startsWith('POST') ? body : ''),
        );
        expect(received).toMatch(/\r\nconnection: close\r\n/i);
        expect(received).toMatch(/\r\nx-request-id: [\w-]+\r\n/i);
        answers.push({
          status: /^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1],
          body: received.slice(received.indexOf('\r\n\r\n') + 4),
        });
      }
      expect(answers).toEqual(
        Array(3).fill({ status: '400', body: JSON.stringify({ code: 400, message }) }),
      );
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual(
          ['/api/v1/timestamp/certchain', '/nowhere', '/api/v1/timestamp'].map((url) =>
            expect.objectContaining({ severity: 'WARN', statusCode: 400, url }),
          ),
        );
      expect(await requests()).toEqual({ '400': 3 });
    },
  );

  it('is served with one Host of any octets Go takes (it reads no further)', async () => {
    const server = await start();
    for (const host of ['tsa.example:8443', '[::1]:80', "a-b_c~!$&'()*+,;=%.example", '']) {
      const received = await sendAndWait(
        server.url,
        `GET /api/v1/timestamp/certchain HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
    }
  });
});

/**
 * Node's parser removes the chunked framing of `gzip, chunked` and hands the gzip bytes on as the
 * body (a DER client got a badDataFormat token for them); Go answers 501 "Unsupported transfer
 * encoding", here 400 as every refusal of client input.
 */
describe('a request in a transfer coding other than chunked alone', () => {
  const smuggled = 'GET /ping HTTP/1.1\r\nHost: tsa\r\n\r\n';
  it.each([
    ['gzip, chunked', `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`],
    ['gzip', smuggled],
  ])(
    'is answered 400 "unsupported transfer encoding" (%s), logged, counted, the connection closed',
    async (coding, body) => {
      const server = await start();
      const lines = linesFromNow();
      const requests = await growthFromNow(
        server.metricsUrl,
        'timestamp_authority_http_requests_total',
      );
      const unparsed = await growthFromNow(server.metricsUrl);
      const received = await sendAndWait(
        server.url,
        'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n' +
          `Content-Type: application/timestamp-query\r\nTransfer-Encoding: ${coding}\r\n\r\n${body}`,
      );
      expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 400 ']);
      expect(received).toMatch(/\r\nconnection: close\r\n/i);
      expect(
        received.endsWith('\r\n\r\n{"code":400,"message":"unsupported transfer encoding"}'),
      ).toBe(true);
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([
          expect.objectContaining({ severity: 'WARN', statusCode: 400, url: '/api/v1/timestamp' }),
        ]);
      expect(await requests()).toEqual({ '400': 1 });
      expect(await unparsed()).toEqual({});
    },
  );

  it('refused by the HTTP parser (chunked twice) gets the same answer, as an unparsed request', async () => {
    const server = await start();
    const unparsed = await growthFromNow(server.metricsUrl);
    const received = await sendAndWait(
      server.url,
      'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n' +
        `Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    );
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 400 ']);
    expect(
      received.endsWith('\r\n\r\n{"code":400,"message":"unsupported transfer encoding"}'),
    ).toBe(true);
    expect(await unparsed()).toEqual({ '400': 1 });
  });

  it('is served when the coding is chunked in any case', async () => {
    const server = await start();
    const body = helloTimeStampReq();
    const connection = watch(await open(server.url));
    connection.socket.write(
      'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\nConnection: close\r\n' +
        'Content-Type: application/timestamp-query\r\nTransfer-Encoding: Chunked\r\n\r\n' +
        `${body.length.toString(16)}\r\n`,
    );
    connection.socket.write(body);
    connection.socket.write('\r\n0\r\n\r\n');
    const { received } = await connection.closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toMatch(/\r\ncontent-type: application\/timestamp-reply\r\n/i);
  });
});

describe('a request in flight when its connection fails', () => {
  it('is logged and counted by its own hooks, not as an unparsed request', async () => {
    const server = await start({ readTimeout: '300ms' });
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    const requests = await growthFromNow(
      server.metricsUrl,
      'timestamp_authority_http_requests_total',
    );
    const received = await sendAndWait(server.url, `${timestampHeaders(67)}0123456789`);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([
        expect.objectContaining({ statusCode: 408, url: '/api/v1/timestamp', reason: undefined }),
      ]);
    expect(await unparsed()).toEqual({});
    expect(await requests()).toEqual({ '408': 1 });
  });
});

/**
 * A response sent before the request's body was read (refused from its headers) must close the
 * connection: kept alive, Node would read and discard any amount of body until --read-timeout and
 * then write a second response (408) on it, logged and counted as an unparsed request.
 */
describe('a request answered before its body arrived (HTTP/1.1)', () => {
  /** Headers announcing a body far larger than any limit, of which the client sends nothing. */
  const announcing = (requestLine: string, contentType: string) =>
    `${requestLine} HTTP/1.1\r\nHost: tsa\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${10 ** 12}\r\n\r\n`;

  /** The head of the first response on `connection`, once its whole body has arrived. */
  async function firstResponseHead(connection: Observed): Promise<string> {
    const whole = () => {
      const received = connection.received();
      const end = received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(received)?.[1];
      return end >= 0 && length !== undefined && received.length >= end + 4 + Number(length);
    };
    await expect.poll(whole, UNTIL_SETTLED).toBe(true);
    return connection.received().slice(0, connection.received().indexOf('\r\n\r\n') + 2);
  }

  /** Sends `head` only; expects one answer with `status` and Connection: close, then the close. */
  async function expectClosedAfterAnswer(server: RunningServer, socket: Observed, head: string) {
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server.metricsUrl);
    socket.socket.write(head);
    const response = await firstResponseHead(socket);
    expect(response).toMatch(/\r\nconnection: close\r\n/i);
    // The server closes the connection without waiting for the body.
    const { received } = await socket.closed;
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
    await expect.poll(lines, UNTIL_SETTLED).toHaveLength(1);
    expect(await unparsed()).toEqual({});
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]), lines: lines() };
  }

  it.each([
    ['an unsupported media type', 'POST /api/v1/timestamp', 'text/plain', 415],
    ['an unknown path', 'POST /nowhere', 'application/timestamp-query', 404],
    ['a method the path does not allow', 'PUT /api/v1/timestamp', 'application/json', 405],
    ['a GET with a body', 'GET /api/v1/timestamp/certchain', 'application/json', 200],
    ['a URL the router cannot decode', 'POST /%zz', 'application/timestamp-query', 400],
  ])('%s is answered with Connection: close and the connection closed', async (...test) => {
    const [, requestLine, contentType, status] = test;
    const server = await start();
    const socket = watch(await open(server.url));
    const answer = await expectClosedAfterAnswer(
      server,
      socket,
      announcing(requestLine, contentType),
    );
    expect(answer.status).toBe(status);
    expect(answer.lines).toEqual([expect.objectContaining({ statusCode: status })]);
  });

  const expecting = (head: string, expectation: string) =>
    head.replace('\r\n\r\n', `\r\nExpect: ${expectation}\r\n\r\n`);

  it.each([
    ['an unsupported media type', 'POST /api/v1/timestamp', 'text/plain', 415],
    ['an unknown path', 'POST /nowhere', 'application/timestamp-query', 404],
    ['a method the path does not allow', 'PUT /api/v1/timestamp', 'application/json', 405],
    ['a body over the limit', 'POST /api/v1/timestamp', 'application/timestamp-query', 413],
  ])(
    'Expect: 100-continue with %s gets its refusal, never 100 Continue (its body would be sent for nothing)',
    async (...test) => {
      const [, requestLine, contentType, status] = test;
      const server = await start();
      const socket = watch(await open(server.url));
      const head = expecting(announcing(requestLine, contentType), '100-continue');
      const answer = await expectClosedAfterAnswer(server, socket, head);
      expect(answer.status).toBe(status);
      expect(socket.received()).not.toContain('100 Continue');
    },
  );

  it('Expect: 100-continue with a request whose body is read gets 100 Continue, then its answer', async () => {
    const server = await start();
    const socket = watch(await open(server.url));
    const body = helloTimeStampReq();
    socket.socket.write(
      `POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\nContent-Type: application/timestamp-query\r\n` +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
    await expect
      .poll(() => socket.received(), UNTIL_SETTLED)
      .toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    socket.socket.write(body);
    const { received } = await socket.closed;
    expect(received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('an Expect other than 100-continue is answered 417, logged, counted and closed, as Go closes it', async () => {
    const server = await start();
    const socket = watch(await open(server.url));
    const head = expecting(
      announcing('POST /api/v1/timestamp', 'application/timestamp-query'),
      'the-unexpected',
    );
    const answer = await expectClosedAfterAnswer(server, socket, head);
    expect(answer.status).toBe(417);
    expect(answer.lines).toEqual([expect.objectContaining({ statusCode: 417 })]);
    expect(socket.received()).toMatch(/\r\nx-request-id: \S+\r\n/i);
    expect(socket.received()).toContain(
      '{"code":417,"message":"unsupported Expect header: only 100-continue is supported"}',
    );
    const metrics = await (await fetch(server.metricsUrl)).text();
    expect(metrics).toMatch(
      /timestamp_authority_http_requests_total\{code="417",path="\/api\/v1\/timestamp",method="POST"\} 1/,
    );
  });

  /** A server allowing one request, and that one spent. */
  async function overRateLimit() {
    const server = await start({ rateLimitMax: 1 });
    const first = await fetch(`${server.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body: helloTimeStampReq(),
    });
    expect(first.status).toBe(200);
    return server;
  }

  it('over the rate limit, 429 closes the connection too', async () => {
    const server = await overRateLimit();
    const socket = watch(await open(server.url));
    const head = announcing('POST /api/v1/timestamp', 'application/timestamp-query');
    expect((await expectClosedAfterAnswer(server, socket, head)).status).toBe(429);
  });

  it('Expect: 100-continue over the rate limit gets 429, never 100 Continue (the limit is decided first)', async () => {
    const server = await overRateLimit();
    // A body the server would read: within --max-request-body-size, of a type it parses.
    const received = await sendAndWait(
      server.url,
      'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\nContent-Type: application/timestamp-query\r\n' +
        `Content-Length: ${helloTimeStampReq().length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 429 ']);
  });

  it('with --http-ping-only, the 404 closes the connection too', async () => {
    const server = await start({ httpPingOnly: true });
    const socket = watch(await open(server.url));
    const head = announcing('POST /api/v1/timestamp', 'application/timestamp-query');
    expect((await expectClosedAfterAnswer(server, socket, head)).status).toBe(404);
  });

  it('on the HTTPS listener’s HTTP/1.1 too', async () => {
    const dir = tempDir();
    try {
      const tls = selfSignedTlsListener(dir);
      const server = await start(tls.flags);
      const tlsSocket = await openHttps1(server.tlsUrl ?? '', tls.ca);
      const head = announcing('POST /api/v1/timestamp', 'text/plain');
      expect((await expectClosedAfterAnswer(server, watch(tlsSocket), head)).status).toBe(415);
    } finally {
      dir.cleanup();
    }
  });

  it('reads away a body of 256 KiB at most, as Go does, and keeps the connection', async () => {
    const server = await start();
    const connection = watch(await open(server.url));
    const body = 'x'.repeat(256 * 1024);
    connection.socket.write(
      `POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    const head = await firstResponseHead(connection);
    expect(head).toMatch(/^HTTP\/1\.1 415 /);
    expect(head).toMatch(/\r\nconnection: keep-alive\r\n/i);
    // The body sent after the answer is read away; the next request on the connection is served.
    connection.socket.write(`${body}GET /ping HTTP/1.1\r\nHost: tsa\r\nConnection: close\r\n\r\n`);
    const { received } = await connection.closed;
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 415 ', 'HTTP/1.1 200 ']);
  });

  it('keeps alive a connection whose bodyless request was answered', async () => {
    const server = await start();
    const connection = watch(await open(server.url));
    connection.socket.write('GET /nowhere HTTP/1.1\r\nHost: tsa\r\n\r\n');
    const head = await firstResponseHead(connection);
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(head).toMatch(/\r\nconnection: keep-alive\r\n/i);
    connection.socket.end();
  });
});
