import { afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { logSink } from '../../helpers/log-sink.js';
import { open, timestampHeaders, watch } from '../../helpers/slow-client.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';

/**
 * Requests Node's HTTP/1.1 parser refuses before a request exists (bad syntax, headers over
 * --max-header-size, headers not received within --read-timeout): each gets the Go JSON body, one
 * log line and a count in timestamp_authority_http_unparsed_requests_total, never its bytes in the
 * log. A request in flight when its connection fails is logged and counted by its own hooks only.
 */
const { sink, records } = logSink();
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function start(flags: Partial<Record<ServeOptionName, unknown>> = {}) {
  const config = resolveServeConfig({
    port: 0,
    metricsPort: 0,
    disableNtpMonitoring: true,
    ...flags,
  });
  const server = await startServer(config, createLogger('prod', 'info', sink), {});
  running.push(server);
  return server;
}

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

/** A metric's samples by code: `timestamp_authority_http_unparsed_requests_total` by default. */
async function countsByCode(
  server: RunningServer,
  metric = 'timestamp_authority_http_unparsed_requests_total',
): Promise<Record<string, number>> {
  const text = await (await fetch(server.metricsUrl)).text();
  const counts: Record<string, number> = {};
  for (const [, code, value] of text.matchAll(
    new RegExp(`^${metric}\\{code="(\\d+)"[^}]*\\} (\\d+)$`, 'gm'),
  ))
    counts[code!] = (counts[code!] ?? 0) + Number(value);
  return counts;
}

/**
 * How much each code of `metric` has grown since now: the registry is the process's, shared by
 * every server this file starts.
 */
async function growthFromNow(server: RunningServer, metric?: string) {
  const before = await countsByCode(server, metric);
  return async () =>
    Object.fromEntries(
      Object.entries(await countsByCode(server, metric))
        .map(([code, value]) => [code, value - (before[code] ?? 0)] as const)
        .filter(([, growth]) => growth > 0),
    );
}

/** Writes `data` on a new connection and resolves with all the server sent before closing. */
async function sendAndWait(url: string, data: string): Promise<string> {
  const connection = watch(await open(url));
  connection.socket.write(data);
  return (await connection.closed).received;
}

describe('a request the HTTP parser refuses', () => {
  it('is answered 400, logged once without its bytes, and counted', async () => {
    const server = await start();
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server);
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
    const unparsed = await growthFromNow(server);
    const received = await sendAndWait(
      server.url,
      `GET /ping HTTP/1.1\r\nHost: tsa\r\nX-Pad: ${'a'.repeat(2000)}\r\n\r\n`,
    );
    expect(received).toMatch(/^HTTP\/1\.1 431 /);
    await expect.poll(lines).toEqual([
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
    const unparsed = await growthFromNow(server);
    const requests = await growthFromNow(server, 'timestamp_authority_http_requests_total');
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
    const unparsed = await growthFromNow(server);
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
      .poll(lines)
      .toEqual([
        expect.objectContaining({ statusCode: 200, url: '/api/v1/timestamp' }),
        expect.objectContaining({ statusCode: 400, message: 'request rejected' }),
      ]);
    expect(await unparsed()).toEqual({ '400': 1 });
  });
});

describe('a request in flight when its connection fails', () => {
  it('is logged and counted by its own hooks, not as an unparsed request', async () => {
    const server = await start({ readTimeout: '300ms' });
    const lines = linesFromNow();
    const unparsed = await growthFromNow(server);
    const requests = await growthFromNow(server, 'timestamp_authority_http_requests_total');
    const received = await sendAndWait(server.url, `${timestampHeaders(67)}0123456789`);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    await expect
      .poll(lines)
      .toEqual([
        expect.objectContaining({ statusCode: 408, url: '/api/v1/timestamp', reason: undefined }),
      ]);
    expect(await unparsed()).toEqual({});
    expect(await requests()).toEqual({ '408': 1 });
  });
});
