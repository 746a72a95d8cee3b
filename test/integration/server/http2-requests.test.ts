import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { MAX_CONCURRENT_STREAMS } from '../../../src/server/tls.js';
import {
  CONNECTION_PREFACE,
  FLAG,
  FRAME,
  framesIn,
  headerBlockFrames,
  hpackGet,
  hpackLiteral,
  http2Frame,
  openH2Socket,
} from '../../helpers/http2-frames.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { logSink } from '../../helpers/log-sink.js';
import { growthFromNow } from '../../helpers/metric-growth.js';
import { tempDir } from '../../helpers/openssl.js';
import { watch } from '../../helpers/slow-client.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

/**
 * What HTTP/2 lets through that HTTP/1.1's parser would not, answered as the HTTP/1.1 listener
 * answers its nearest equivalent, and logged and counted as any other request.
 */
const dir = tempDir();
const tls = selfSignedTls();
const { sink, records } = logSink();
let server: RunningServer;
let session: ClientHttp2Session;

beforeAll(async () => {
  server = await startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      tlsPort: 0,
      tlsCertificate: dir.write('tls.pem', tls.cert),
      tlsKey: dir.write('tls.key', tls.key),
    }),
    createLogger('prod', 'info', sink),
  );
  session = connect(server.tlsUrl ?? '', { ca: tls.cert });
  session.on('error', () => undefined);
});
afterAll(async () => {
  session.close();
  await server.close();
  dir.cleanup();
});

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

/**
 * One request on the session: `body` is sent in DATA frames after the HEADERS frame, which then
 * does not end the stream; without `body` the HEADERS frame ends it.
 */
function request(headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    stream.on('response', (received) => (head = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () =>
      resolve({
        status: Number(head[constants.HTTP2_HEADER_STATUS]),
        headers: head,
        body: Buffer.concat(chunks),
      }),
    );
    if (body !== undefined) stream.end(body);
  });
}

/** The request log's lines from now on: method, URL, status and message. */
function linesFromNow() {
  const before = records().length;
  return () =>
    records()
      .slice(before)
      .map(({ severity, message, method, url, statusCode }) => ({
        severity,
        message,
        method,
        url,
        statusCode,
      }));
}

const REQUESTS_TOTAL = 'timestamp_authority_http_requests_total';

describe('an HTTP/2 method the router does not know', () => {
  it('is 405 with Allow on a known path and 404 elsewhere, logged once and counted, with no warning', async () => {
    const lines = linesFromNow();
    const counted = await growthFromNow(server.metricsUrl, REQUESTS_TOTAL);
    const answers = [];
    for (const method of ['FOO', 'get', 'X']) {
      answers.push(
        await request({ ':method': method, ':path': '/api/v1/timestamp' }).then((answer) => ({
          status: answer.status,
          allow: answer.headers.allow,
          body: answer.body.toString(),
        })),
      );
    }
    expect(answers).toEqual(
      ['FOO', 'get', 'X'].map((method) => ({
        status: 405,
        allow: 'POST',
        body: JSON.stringify({
          code: 405,
          message: `method ${method} is not allowed, but [POST] are`,
        }),
      })),
    );
    const elsewhere = await request({ ':method': 'FOO', ':path': '/nowhere' });
    expect({ status: elsewhere.status, body: elsewhere.body.toString() }).toEqual({
      status: 404,
      body: '{"code":404,"message":"path /nowhere was not found"}',
    });
    // Fastify's own answer was a 404 with two WARN lines ("this is likely a fastify bug" and the
    // route tree), and no request line.
    await expect.poll(lines, UNTIL_SETTLED).toEqual([
      ...['FOO', 'get', 'X'].map((method) => ({
        severity: 'WARN',
        message: 'request rejected',
        method,
        url: '/api/v1/timestamp',
        statusCode: 405,
      })),
      {
        severity: 'WARN',
        message: 'request rejected',
        method: 'FOO',
        url: '/nowhere',
        statusCode: 404,
      },
    ]);
    expect(await counted()).toEqual({ '405': 3, '404': 1 });
  });

  it('is logged and quoted cut to its first 32 characters: an HTTP/2 method may be as long as a header', async () => {
    const lines = linesFromNow();
    const method = 'M'.repeat(1000);
    const answer = await request({ ':method': method, ':path': '/api/v1/timestamp' });
    expect(answer.status).toBe(405);
    expect(JSON.parse(answer.body.toString())).toEqual({
      code: 405,
      message: `method ${'M'.repeat(32)}… is not allowed, but [POST] are`,
    });
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([expect.objectContaining({ method: `${'M'.repeat(32)}…`, statusCode: 405 })]);
  });
});

describe('an HTTP/2 POST without Content-Type', () => {
  const post = { ':method': 'POST', ':path': '/api/v1/timestamp' };

  it('with a body of no announced length is 415, as the HTTP/1.1 listener answers a chunked one', async () => {
    const lines = linesFromNow();
    const answer = await request(post, helloTimeStampReq());
    expect({ status: answer.status, body: JSON.parse(answer.body.toString()) as unknown }).toEqual({
      status: 415,
      body: {
        code: 415,
        message:
          'unsupported media type "application/octet-stream", only [application/timestamp-query application/json] are allowed',
      },
    });
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([expect.objectContaining({ method: 'POST', statusCode: 415 })]);
  });

  it('whose HEADERS frame ends the stream has no body: an empty DER request, refused as such', async () => {
    const answer = await request(post);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/timestamp-reply');
  });
});

describe('an HTTP/2 request with a Host header besides :authority', () => {
  const trustedRoot = (authority: string, host: string) =>
    request({ ':path': '/api/v1/timestamp/trusted-root', ':authority': authority, host });

  it('naming another authority is refused by trusted-root, as two Host headers are (RFC 9113 section 8.3.1)', async () => {
    const answer = await trustedRoot('tsa.example', 'evil.example');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString())).toEqual({
      code: 400,
      message:
        "the request's host is ambiguous (two Host headers, or a host header unlike :authority)",
    });
  });

  it('naming the same one is served, its entries under that origin', async () => {
    const answer = await trustedRoot('tsa.example:8443', 'TSA.example:8443');
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toContain('"https://tsa.example:8443/api/v1/timestamp');
    // RFC 3986 section 6.2.3: https's default port written out names the same authority.
    const defaultPort = await trustedRoot('tsa.example', 'tsa.example:443');
    expect(defaultPort.status).toBe(200);
  });
});

describe('an HTTP/2 request with many header fields', () => {
  /** `count` fields `x<i>: v`, each 35 to 37 octets of the header list. */
  const fields = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`x${i}`, 'v']));
  const certchain = '/api/v1/timestamp/certchain';

  it('is served within --max-header-size, however many (Node reset those of over 124)', async () => {
    const lines = linesFromNow();
    // About 15 KB in HTTP/2's count: within the default 16384.
    const answer = await request({ ':path': certchain, ...fields(400) });
    expect(answer.status).toBe(200);
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([expect.objectContaining({ statusCode: 200, url: certchain })]);
  });

  it('is answered 431 past --max-header-size, logged and counted, not reset unanswered', async () => {
    const lines = linesFromNow();
    const counted = await growthFromNow(server.metricsUrl, REQUESTS_TOTAL);
    const connection = watch(await openH2Socket(server.tlsUrl ?? '', tls.cert));
    // 600 fields, over 16384 octets in HTTP/2's count: in the client's first flight, before it
    // acknowledges the server's SETTINGS, which is when the server's own check answers (after,
    // Node resets a list over SETTINGS_MAX_HEADER_LIST_SIZE itself: tls.test.ts).
    const block = Buffer.concat([
      hpackGet(certchain),
      ...Array.from({ length: 600 }, (_, i) => hpackLiteral(`x${i}`, 'v')),
    ]);
    connection.socket.write(
      Buffer.concat([
        CONNECTION_PREFACE,
        http2Frame(FRAME.settings, 0, 0, []),
        headerBlockFrames(1, block),
      ]),
    );
    const refusal = '{"code":431,"message":"request headers are larger than 16384 bytes"}';
    try {
      // Answered, or reset (Node's own limit on the number of fields, 128, reset it).
      const reset = () =>
        framesIn(Buffer.from(connection.received(), 'latin1')).some(
          ({ type, streamId }) => type === FRAME.rstStream && streamId === 1,
        );
      await expect
        .poll(() => connection.received().includes(refusal) || reset(), UNTIL_SETTLED)
        .toBe(true);
      expect(connection.received()).toContain(refusal);
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([expect.objectContaining({ statusCode: 431, url: certchain })]);
      expect(await counted()).toEqual({ '431': 1 });
    } finally {
      connection.socket.destroy();
    }
  });
});

describe('an HTTP/2 body over --max-request-body-size', () => {
  it('is answered 413 without Node warning on stderr about a Connection header HTTP/2 has not', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const answer = await request(
        {
          ':method': 'POST',
          ':path': '/api/v1/timestamp',
          'content-type': 'application/timestamp-query',
        },
        Buffer.alloc(2_000_000),
      );
      expect(answer.status).toBe(413);
      expect(answer.headers.connection).toBeUndefined();
      // Node emits its warnings on a later tick: another request's round trip lets them through.
      expect((await request({ ':path': '/api/v1/timestamp/certchain' })).status).toBe(200);
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

/** SETTINGS_MAX_CONCURRENT_STREAMS's identifier (RFC 9113 section 6.5.2). */
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;

describe('HTTP/2 streams at once on one connection', () => {
  it(`are at most ${MAX_CONCURRENT_STREAMS}, as in Go: a client that opens more loses its connection`, async () => {
    const socket = await openH2Socket(server.tlsUrl ?? '', tls.cert);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    const received = () => framesIn(Buffer.concat(chunks));
    try {
      socket.write(Buffer.concat([CONNECTION_PREFACE, http2Frame(FRAME.settings, 0, 0, [])]));
      // The server's limit applies once its SETTINGS are acknowledged.
      await expect
        .poll(() => received().some(({ type }) => type === FRAME.settings), UNTIL_SETTLED)
        .toBe(true);
      const advertised = received().find(
        ({ type, payload }) => type === FRAME.settings && payload.length > 0,
      );
      const settings = new Map<number, number>();
      for (let at = 0; advertised && at + 6 <= advertised.payload.length; at += 6)
        settings.set(advertised.payload.readUInt16BE(at), advertised.payload.readUInt32BE(at + 2));
      expect(settings.get(SETTINGS_MAX_CONCURRENT_STREAMS)).toBe(MAX_CONCURRENT_STREAMS);
      socket.write(http2Frame(FRAME.settings, FLAG.ack, 0, []));
      // Requests whose bodies never come: each stream stays open.
      const post = Buffer.concat([
        Buffer.of(0x83, 0x87), // :method POST, :scheme https (HPACK's static table)
        hpackLiteral(':authority', 'tsa'),
        hpackLiteral(':path', '/api/v1/timestamp'),
        hpackLiteral('content-type', 'application/timestamp-query'),
      ]);
      const opened = MAX_CONCURRENT_STREAMS + 5;
      socket.write(
        Buffer.concat(
          Array.from({ length: opened }, (_, i) =>
            http2Frame(FRAME.headers, FLAG.endHeaders, 2 * i + 1, post),
          ),
        ),
      );
      // Node ends the connection (RST_STREAM on its first stream); with its own default it held
      // them all open.
      await closed;
      expect(received().find(({ type }) => type === FRAME.rstStream)).toMatchObject({
        streamId: 1,
      });
      expect(records().filter(({ severity }) => severity === 'ERROR')).toEqual([]);
    } finally {
      socket.destroy();
    }
  });
});
