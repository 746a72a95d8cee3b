import { open as openFile } from 'node:fs/promises';
import { connect as connectHttp2, constants } from 'node:http2';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import type { OpenAuditFile } from '../../../src/server/audit-log-file.js';
import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer, type StartOptions } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { logSink } from '../../helpers/log-sink.js';
import { tempDir } from '../../helpers/openssl.js';
import { open, timestampHeaders, trickle, watch } from '../../helpers/slow-client.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';

/**
 * What a client whose request stops arriving gets, and what the log and metrics say about it:
 * the 408 of --read-timeout (not a silent close by the inactivity timer of --write-timeout, nor
 * an HTTP/2 CANCEL), logged and counted as 408 (not as the client's 499), and a request the
 * server cuts at --write-timeout while handling it as 444. Timeouts are short so the cuts happen
 * within the test; nothing asserts how long they took.
 */
const dir = tempDir();
const tls = selfSignedTls();
const tlsFiles = {
  tlsCertificate: dir.write('tls.pem', tls.cert),
  tlsKey: dir.write('tls.key', tls.key),
};
const { sink, records } = logSink();
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});
afterAll(() => dir.cleanup());

async function start(flags: Partial<Record<ServeOptionName, unknown>>, options?: StartOptions) {
  const config = resolveServeConfig({
    port: 0,
    metricsPort: 0,
    disableNtpMonitoring: true,
    ...flags,
  });
  const server = await startServer(config, createLogger('prod', 'info', sink), options);
  running.push(server);
  return server;
}

const READ_TIMEOUT_BODY = '{"code":408,"message":"request not received within the read timeout"}';
/** The prefix of a stalled POST /api/v1/timestamp: its headers and 10 of its 67 body bytes. */
const STALLED_BODY = `${timestampHeaders(67)}0123456789`;

/** The request log's lines for /api/v1/timestamp from now on. */
function timestampLines() {
  const before = records().length;
  return () =>
    records()
      .slice(before)
      .filter((line) => line.url === '/api/v1/timestamp')
      .map(({ statusCode, message }) => ({ statusCode, message }));
}

/** timestamp_authority_http_requests_total of POST /api/v1/timestamp by code. */
async function requestCounts(server: RunningServer): Promise<Record<string, number>> {
  const text = await (await fetch(server.metricsUrl)).text();
  const counts: Record<string, number> = {};
  const pattern =
    /^timestamp_authority_http_requests_total\{code="(\d+)",path="\/api\/v1\/timestamp",method="POST"\} (\d+)$/gm;
  for (const [, code, value] of text.matchAll(pattern)) counts[code!] = Number(value);
  return counts;
}
const increase = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([code, value]) => [code, value - (before[code] ?? 0)] as const)
      .filter(([, delta]) => delta > 0),
  );

/** Writes `data` on a new connection and resolves with all the server sent before closing. */
async function sendAndWait(url: string, data: string | Buffer): Promise<string> {
  const connection = watch(await open(url));
  connection.socket.write(data);
  return (await connection.closed).received;
}

describe('HTTP/1.1: a request that stops arriving', () => {
  it.each([
    ['a body', STALLED_BODY],
    ['headers', 'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n'],
  ])(
    'gets 408 with the Go body when %s stop before --read-timeout, even at a shorter --write-timeout',
    async (_what, prefix) => {
      const server = await start({ readTimeout: '300ms', writeTimeout: '100ms' });
      const received = await sendAndWait(server.url, prefix);
      expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(received).toContain('\r\nConnection: close\r\n');
      expect(received.endsWith(`\r\n\r\n${READ_TIMEOUT_BODY}`)).toBe(true);
    },
  );

  it('gets its request ID on the 408, as every answer, the one its log line has', async () => {
    const server = await start({ readTimeout: '300ms' });
    const given = STALLED_BODY.replace('\r\n\r\n', '\r\nX-Request-Id: stalled-1\r\n\r\n');
    const generated = records().length;
    for (const [request, id] of [
      [given, 'stalled-1'],
      [STALLED_BODY, undefined],
    ] as const) {
      const received = await sendAndWait(server.url, request);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      const answered = /\r\nx-request-id: (\S+)\r\n/i.exec(received)?.[1];
      expect(answered).toEqual(id ?? expect.stringMatching(/^[\da-f-]{36}$/));
      await expect
        .poll(() => records().filter((line) => line.requestID === answered), UNTIL_SETTLED)
        .toEqual([expect.objectContaining({ statusCode: 408 })]);
    }
    expect(
      records()
        .slice(generated)
        .filter((line) => line.statusCode === 408),
    ).toHaveLength(2);
  });

  it('gets 408 with equal --read-timeout and --write-timeout, logged and counted as 408', async () => {
    const server = await start({ readTimeout: '300ms', writeTimeout: '300ms' });
    const lines = timestampLines();
    const before = await requestCounts(server);
    expect(await sendAndWait(server.url, STALLED_BODY)).toMatch(/^HTTP\/1\.1 408 /);
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([{ statusCode: 408, message: 'request timed out' }]);
    expect(increase(before, await requestCounts(server))).toEqual({ '408': 1 });
  });

  it('trickling its body: the 408 it gets is what the log and metrics say, not 499', async () => {
    const server = await start({ readTimeout: '300ms', writeTimeout: '30s' });
    const lines = timestampLines();
    const before = await requestCounts(server);
    const connection = watch(await open(server.url));
    const body = helloTimeStampReq();
    connection.socket.write(timestampHeaders(body.length));
    const sender = trickle(connection.socket, body, 50);
    const { received } = await connection.closed;
    sender.stop();
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    await expect
      .poll(lines, UNTIL_SETTLED)
      .toEqual([{ statusCode: 408, message: 'request timed out' }]);
    expect(increase(before, await requestCounts(server))).toEqual({ '408': 1 });
  });
});

/** An audit log whose disk stops answering until `release()`: a request waits for its record. */
function stalledAuditLog() {
  let release = () => undefined as void;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const openAuditFile: OpenAuditFile = async (path) => {
    const file = await openFile(path, 'a+', 0o640);
    return Object.assign(Object.create(file) as typeof file, {
      datasync: async () => {
        await stalled;
        return file.datasync();
      },
      appendFile: (data: string) => file.appendFile(data),
      stat: () => file.stat(),
      read: file.read.bind(file),
      truncate: (length: number) => file.truncate(length),
      close: () => file.close(),
    });
  };
  return { openAuditFile, release };
}

describe('a request the server cuts at --write-timeout while handling it', () => {
  it('is logged and counted as 444 (no answer), not as the client’s 499', async () => {
    const { openAuditFile, release } = stalledAuditLog();
    const server = await start(
      { readTimeout: '30s', writeTimeout: '200ms', auditLog: dir.path('stalled.jsonl') },
      { openAuditFile },
    );
    const lines = timestampLines();
    const before = await requestCounts(server);
    const body = helloTimeStampReq();
    const request = Buffer.concat([Buffer.from(timestampHeaders(body.length)), body]);
    try {
      expect(await sendAndWait(server.url, request)).toBe('');
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([{ statusCode: 444, message: 'connection closed without response' }]);
      expect(increase(before, await requestCounts(server))).toEqual({ '444': 1 });
    } finally {
      release();
    }
  });

  /** A whole POST /api/v1/timestamp with a malformed request behind it, in one write. */
  const pipelinedWithMalformed = () => {
    const body = helloTimeStampReq();
    return Buffer.concat([
      Buffer.from(timestampHeaders(body.length)),
      body,
      Buffer.from('BOGUS\r\n\r\n'),
    ]);
  };
  /** Status, message and URL of the log lines from now on. */
  const linesFromNow = () => {
    const before = records().length;
    return () =>
      records()
        .slice(before)
        .map(({ statusCode, message, url }) => ({ statusCode, message, url }));
  };

  // The refusal of the malformed request waits for the first answer, which never comes.
  it('with a malformed request pipelined behind it: both are cut at --write-timeout, logged 444', async () => {
    const { openAuditFile, release } = stalledAuditLog();
    const server = await start(
      { readTimeout: '30s', writeTimeout: '200ms', auditLog: dir.path('pipelined.jsonl') },
      { openAuditFile },
    );
    const lines = linesFromNow();
    try {
      expect(await sendAndWait(server.url, pipelinedWithMalformed())).toBe('');
      await expect.poll(lines, UNTIL_SETTLED).toEqual([
        {
          statusCode: 444,
          message: 'connection closed without response',
          url: '/api/v1/timestamp',
        },
        { statusCode: 444, message: 'connection closed without response', url: undefined },
      ]);
    } finally {
      release();
    }
  });

  it('with a malformed request pipelined behind it and no --write-timeout: --read-timeout cuts both', async () => {
    const { openAuditFile, release } = stalledAuditLog();
    const server = await start(
      { readTimeout: '300ms', writeTimeout: '0s', auditLog: dir.path('pipelined-read.jsonl') },
      { openAuditFile },
    );
    const lines = linesFromNow();
    try {
      // Node's read deadline runs from the malformed request's first byte: its 408 takes the
      // place of the answer not begun, as for a request arriving too slowly behind another.
      const received = await sendAndWait(server.url, pipelinedWithMalformed());
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect(received.endsWith(`\r\n\r\n${READ_TIMEOUT_BODY}`)).toBe(true);
      await expect.poll(lines, UNTIL_SETTLED).toEqual([
        { statusCode: 408, message: 'request timed out', url: '/api/v1/timestamp' },
        { statusCode: 444, message: 'connection closed without response', url: undefined },
      ]);
    } finally {
      release();
    }
  });
});

/** A POST /api/v1/timestamp stream, its headers sent without END_STREAM, on a session of its own. */
function postOverHttp2(server: RunningServer, headers: Record<string, string> = {}) {
  const session = connectHttp2(server.tlsUrl ?? '', { ca: tls.cert });
  session.on('error', () => undefined);
  const stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
    'content-type': 'application/timestamp-query',
    ...headers,
  });
  return { session, stream };
}

describe('HTTP/2: a stream whose request stops arriving', () => {
  it('gets 408 with equal --read-timeout and --write-timeout (not CANCEL), logged as 408', async () => {
    const server = await start({
      ...tlsFiles,
      tlsPort: 0,
      readTimeout: '300ms',
      writeTimeout: '300ms',
    });
    const lines = timestampLines();
    // Headers without END_STREAM, then nothing.
    const { session, stream } = postOverHttp2(server);
    try {
      let status = 0;
      let body = '';
      let requestId: unknown;
      stream.on('response', (headers) => {
        status = Number(headers[constants.HTTP2_HEADER_STATUS]);
        requestId = headers['x-request-id'];
      });
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('error', () => undefined);
      await new Promise((resolve) => stream.once('close', resolve));
      expect({ status, body, rstCode: stream.rstCode }).toEqual({
        status: 408,
        body: READ_TIMEOUT_BODY,
        rstCode: constants.NGHTTP2_NO_ERROR,
      });
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([{ statusCode: 408, message: 'request timed out' }]);
      // The request ID every answer carries, its log line's.
      expect(requestId).toEqual(expect.any(String));
      expect(records().filter((line) => line.requestID === requestId)).toEqual([
        expect.objectContaining({ statusCode: 408 }),
      ]);
      // Fastify's body reader ends with the stream: no "Reply was already sent" warning.
      expect(records().filter((line) => line.severity === 'WARN' && 'err' in line)).toEqual([]);
    } finally {
      session.destroy();
    }
  });

  it('with part of a Content-Length body sent: the 408 alone, no "Reply was already sent" warning', async () => {
    const server = await start({ ...tlsFiles, tlsPort: 0, readTimeout: '300ms' });
    const lines = timestampLines();
    const before = records().length;
    const { session, stream } = postOverHttp2(server, { 'content-length': '67' });
    try {
      stream.write('0123456789');
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
      stream.on('error', () => undefined);
      stream.resume();
      await new Promise((resolve) => stream.once('close', resolve));
      expect(status).toBe(408);
      await expect
        .poll(lines, UNTIL_SETTLED)
        .toEqual([{ statusCode: 408, message: 'request timed out' }]);
      // A second request on the session: its line comes after anything the cut one still logs.
      const ping = session.request({
        [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp/certchain',
      });
      ping.resume();
      await new Promise((resolve) => ping.once('close', resolve));
      await expect
        .poll(
          () => records().some((line) => line.url === '/api/v1/timestamp/certchain'),
          UNTIL_SETTLED,
        )
        .toBe(true);
      expect(
        records()
          .slice(before)
          .filter((line) => 'err' in line),
      ).toEqual([]);
    } finally {
      session.destroy();
    }
  });
});
