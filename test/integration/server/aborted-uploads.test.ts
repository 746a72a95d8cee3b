import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as connectHttp2, constants, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { logSink } from '../../helpers/log-sink.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { open, timestampHeaders, watch } from '../../helpers/slow-client.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

/**
 * Clients that give up in the middle of their upload (HTTP/2 RST_STREAM, an HTTP/1.1 connection
 * closed before Content-Length bytes): nothing was asked, so nothing is parsed, issued, audited or
 * counted as issued, and the request log says "aborted" (499), not 200 or 400.
 */
const dir = tempDir();
const auditPath = dir.path('audit.jsonl');
const { sink: logDestination, records: logRecords } = logSink();
let server: RunningServer;
let ca: Buffer;
let tlsFiles: { tlsCertificate: string; tlsKey: string };

const startTsa = (flags: Partial<Record<ServeOptionName, unknown>>) =>
  startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      tlsPort: 0,
      disableNtpMonitoring: true,
      ...tlsFiles,
      ...flags,
    }),
    createLogger('prod', 'info', logDestination),
  );

beforeAll(async () => {
  const tls = selfSignedTls();
  ca = Buffer.from(tls.cert);
  tlsFiles = {
    tlsCertificate: dir.write('tls.pem', tls.cert),
    tlsKey: dir.write('tls.key', tls.key),
  };
  server = await startTsa({ auditLog: auditPath });
});
afterAll(async () => {
  await server.close();
  dir.cleanup();
});

const requestLines = () => logRecords().filter((line) => typeof line.statusCode === 'number');
const auditLines = () =>
  readFileSync(auditPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function metrics(): Promise<string> {
  return (await fetch(server.metricsUrl)).text();
}
function sample(text: string, name: string, labels: string): number {
  const escaped = labels.replace(/[/.]/g, '\\$&');
  return Number(new RegExp(`^${name}\\{${escaped}\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
}
const issued = (text: string) =>
  sample(text, 'timestamp_authority_issuance_total', 'outcome="granted",fail_info="none"');
const rejected = (text: string) =>
  sample(
    text,
    'timestamp_authority_issuance_total',
    'outcome="rejected",fail_info="badDataFormat"',
  );
const aborted = (text: string) =>
  sample(
    text,
    'timestamp_authority_http_requests_total',
    'code="499",path="/api/v1/timestamp",method="POST"',
  );

/** Resolves once `count` more request lines than `before` have been logged; no deadline of its own. */
async function requestLinesAfter(before: number, count: number) {
  await waitUntil(() => requestLines().length >= before + count, 20);
  return requestLines().slice(before);
}

let barriers = 0;
/**
 * Shows that the requests sent before have logged all they will: a whole time-stamp request, sent
 * now on a connection of its own (HTTP/1.1, written as it connects, so that no --read-timeout cuts
 * it), goes through everything a wrongly handled earlier request would (its body parsed, a token
 * signed and audited, the request line), so by the time its line is logged theirs would be. Checks
 * the barrier's answer and that its line is the last; resolves with the lines logged since `before`,
 * the barrier's left out.
 */
async function linesBeforeBarrier(url: string, before: number) {
  const id = `barrier-${++barriers}`;
  const body = helloTimeStampReq();
  const headers = timestampHeaders(body.length).replace(
    '\r\n\r\n',
    `\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`,
  );
  const { hostname, port } = new URL(url);
  const connection = watch(connect(Number(port), hostname));
  connection.socket.write(Buffer.concat([Buffer.from(headers), body]));
  expect((await connection.closed).received).toMatch(/^HTTP\/1\.1 200 /);
  await waitUntil(() => requestLines().some((line) => line.requestID === id), 20);
  const lines = requestLines().slice(before);
  expect(lines.at(-1)).toMatchObject({
    requestID: id,
    statusCode: 200,
    message: 'request completed',
  });
  return lines.slice(0, -1);
}

/** A whole POST on `session`: its status. */
function post(session: ClientHttp2Session, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
      'content-type': 'application/timestamp-query',
    });
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
    stream.on('error', reject);
    stream.on('close', () => resolve(status));
    stream.resume();
    stream.end(body);
  });
}

/**
 * A POST that sends `sent` of the body and resets the stream (CANCEL) without END_STREAM; with
 * `declareLength`, content-length announces the whole body.
 */
function resetPost(
  session: ClientHttp2Session,
  body: Buffer,
  sent: number,
  declareLength: boolean,
): Promise<void> {
  return new Promise((resolve) => {
    const cancel = new AbortController();
    const stream = session.request(
      {
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
        'content-type': 'application/timestamp-query',
        ...(declareLength ? { 'content-length': String(body.length) } : {}),
      },
      { endStream: false, signal: cancel.signal },
    );
    stream.on('error', () => undefined);
    stream.on('close', () => resolve());
    stream.write(body.subarray(0, sent), () => cancel.abort());
  });
}

describe('uploads cancelled mid-body', () => {
  it('HTTP/2: a reset stream is logged as aborted, never parsed, issued or audited', async () => {
    const body = helloTimeStampReq();
    const before = await metrics();
    const logged = requestLines().length;
    const session = connectHttp2(server.tlsUrl!, { ca });
    session.on('error', () => undefined);
    const resets: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      // Nothing, part of the body, or all of it without END_STREAM; with and without content-length.
      const sent = [0, 1, body.length >> 1, body.length][i % 4]!;
      resets.push(resetPost(session, body, sent, i % 8 < 4));
    }
    await Promise.all(resets);
    // A whole request after them on the same session is served as usual.
    expect(await post(session, body)).toBe(200);
    session.close();

    await requestLinesAfter(logged, 41);
    const after = await linesBeforeBarrier(server.url, logged);
    expect(after).toHaveLength(41);
    const completed = after.filter((line) => line.message === 'request completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ statusCode: 200, serialNumber: expect.any(String) });
    const abortedLines = after.filter((line) => line.message !== 'request completed');
    expect(abortedLines).toHaveLength(40);
    for (const line of abortedLines) {
      expect(line).toMatchObject({ message: 'request aborted', statusCode: 499, severity: 'INFO' });
    }

    // Issued and audited: the whole request, and the barrier's.
    const now = await metrics();
    expect(issued(now) - issued(before)).toBe(2);
    expect(rejected(now) - rejected(before)).toBe(0);
    expect(aborted(now) - aborted(before)).toBe(40);
    const audit = auditLines();
    expect(audit.filter((line) => line.status === 'granted')).toHaveLength(2);
    expect(audit.filter((line) => line.status !== 'granted')).toHaveLength(0);
    expect(audit[0]!.serialNumber).toBe(completed[0]!.serialNumber);
  });

  it('HTTP/2: a stream Node resets before raising its request (a body over its content-length) is aborted, not 200', async () => {
    const body = helloTimeStampReq();
    const before = await metrics();
    const logged = requestLines().length;
    const auditBefore = auditLines().length;
    const session = connectHttp2(server.tlsUrl!, { ca });
    session.on('error', () => undefined);
    /** A POST on `session`: its status (0: none) and the stream's RST_STREAM code. */
    const send = (headers: Record<string, string>, sent: Buffer) =>
      new Promise<{ status: number; rstCode: number | undefined }>((resolve) => {
        const stream = session.request(
          {
            [constants.HTTP2_HEADER_METHOD]: 'POST',
            [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
            'content-type': 'application/timestamp-query',
            ...headers,
          },
          { endStream: false },
        );
        let status = 0;
        stream.on('response', (head) => (status = Number(head[constants.HTTP2_HEADER_STATUS])));
        stream.on('error', () => undefined);
        stream.on('close', () => resolve({ status, rstCode: stream.rstCode }));
        stream.resume();
        stream.end(sent);
      });
    // The 413's unread body is still being received when the third stream arrives: Node reads
    // that stream's DATA past its content-length, resets it, then raises its request, closed.
    expect(await send({}, body)).toMatchObject({ status: 200 });
    expect(await send({}, Buffer.alloc(2_000_000))).toMatchObject({ status: 413 });
    expect(await send({ 'content-length': '5' }, Buffer.alloc(70))).toEqual({
      status: 0,
      rstCode: constants.NGHTTP2_PROTOCOL_ERROR,
    });
    session.close();

    await requestLinesAfter(logged, 3);
    const after = await linesBeforeBarrier(server.url, logged);
    expect(after.map(({ statusCode }) => statusCode).sort()).toEqual([200, 413, 499]);
    expect(after.find(({ statusCode }) => statusCode === 499)).toMatchObject({
      message: 'request aborted',
      severity: 'INFO',
    });
    const now = await metrics();
    expect(aborted(now) - aborted(before)).toBe(1);
    const okCount = (text: string) =>
      sample(
        text,
        'timestamp_authority_http_requests_total',
        'code="200",path="/api/v1/timestamp",method="POST"',
      );
    // The first request's and the barrier's.
    expect(okCount(now) - okCount(before)).toBe(2);
    // No line for a request never asked (it read {"status":"rejection","httpStatus":200}).
    expect(
      auditLines()
        .slice(auditBefore)
        .map(({ status, httpStatus }) => ({ status, httpStatus })),
    ).toEqual([
      { status: 'granted', httpStatus: 200 },
      { status: 'rejection', httpStatus: 413 },
      { status: 'granted', httpStatus: 200 },
    ]);
  });

  it('HTTP/1.1: a connection closed before Content-Length bytes is logged as aborted', async () => {
    const body = helloTimeStampReq();
    const before = await metrics();
    const logged = requestLines().length;
    const auditBefore = auditLines().length;
    for (const [sent, close] of [
      [0, 'destroy'],
      [body.length >> 1, 'destroy'],
      [body.length - 1, 'end'],
      [body.length - 1, 'destroy'],
    ] as const) {
      const connection = watch(await open(server.url));
      connection.socket.write(timestampHeaders(body.length));
      connection.socket.write(body.subarray(0, sent), () => {
        if (close === 'end') connection.socket.end();
        else setTimeout(() => connection.socket.destroy(), 50);
      });
      await connection.closed;
    }
    await requestLinesAfter(logged, 4);
    const after = await linesBeforeBarrier(server.url, logged);
    expect(after).toHaveLength(4);
    for (const line of after) {
      expect(line).toMatchObject({ message: 'request aborted', statusCode: 499, severity: 'INFO' });
    }
    // Issued and audited: the barrier only.
    const now = await metrics();
    expect(issued(now) - issued(before)).toBe(1);
    expect(rejected(now) - rejected(before)).toBe(0);
    expect(aborted(now) - aborted(before)).toBe(4);
    expect(auditLines()).toHaveLength(auditBefore + 1);
  });

  it('HTTP/2: a whole body cut by --read-timeout before END_STREAM gets 408 and no token', async () => {
    const auditFile = dir.path('read-timeout-audit.jsonl');
    const slow = await startTsa({ auditLog: auditFile, readTimeout: '300ms' });
    try {
      const before = await metrics();
      const logged = requestLines().length;
      const session = connectHttp2(slow.tlsUrl!, { ca });
      session.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => {
        const stream = session.request(
          {
            [constants.HTTP2_HEADER_METHOD]: 'POST',
            [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
            'content-type': 'application/timestamp-query',
          },
          { endStream: false },
        );
        let answered = 0;
        stream.on('response', (headers) => (answered = Number(headers[':status'])));
        stream.on('error', () => undefined);
        stream.on('close', () => resolve(answered));
        stream.resume();
        // The whole DER request, but never END_STREAM: the request is not complete.
        stream.write(helloTimeStampReq());
      });
      session.close();
      expect(status).toBe(408);
      await requestLinesAfter(logged, 1);
      // A wrongly handled body would have been signed and logged by the barrier's line.
      const after = await linesBeforeBarrier(slow.url, logged);
      expect(after).toHaveLength(1);
      expect(after[0]).toMatchObject({ statusCode: 408, message: 'request timed out' });
      // Issued and audited: the barrier only. The 408 gets no line, as over HTTP/1.1: its
      // request never arrived whole (it read "rejection" with httpStatus 408).
      expect(issued(await metrics()) - issued(before)).toBe(1);
      const audited = readFileSync(auditFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(audited).toEqual([
        expect.objectContaining({ status: 'granted', requestId: `barrier-${barriers}` }),
      ]);
    } finally {
      await slow.close();
    }
  });
});
