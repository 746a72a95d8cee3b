import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { buildServer } from '../../../src/server/app.js';
import { createLogger } from '../../../src/server/logger.js';
import { registry } from '../../../src/metrics/registry.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { logSink } from '../../helpers/log-sink.js';
import { runCli } from '../../helpers/spawn-server.js';

interface LogLine {
  severity: string;
  message: string;
  time: string;
  requestID?: string;
  statusCode?: number;
  [key: string]: unknown;
}

/** An in-process server whose prod logs are captured line by line. */
async function loggedServer(flags: Partial<Record<ServeOptionName, unknown>> = {}) {
  const { sink, lines } = logSink();
  const logger = createLogger('prod', 'info', sink);
  const config = resolveServeConfig({ logType: 'prod', ...flags });
  const tsa = await createAuthority(config, logger);
  const app = await buildServer({
    config,
    authority: tsa.authority,
    chainPem: tsa.chainPem,
    logger,
  });
  return { app, tsa, raw: lines, lines: () => lines().map((line) => JSON.parse(line) as LogLine) };
}

const timestamp = {
  method: 'POST' as const,
  url: '/api/v1/timestamp',
  headers: { 'content-type': 'application/timestamp-query' },
};

describe('request logs', () => {
  it('are one JSON object per line with severity and message (prod)', async () => {
    const { app, raw, lines } = await loggedServer();
    await app.inject({ ...timestamp, payload: helloTimeStampReq() });
    expect(raw().length).toBeGreaterThan(0);
    for (const line of lines()) {
      expect(line).toEqual(
        expect.objectContaining({
          severity: expect.any(String),
          message: expect.any(String),
          time: expect.any(String),
        }),
      );
      expect(line).not.toHaveProperty('level');
      expect(line).not.toHaveProperty('msg');
    }
    expect(lines().at(-1)).toMatchObject({
      severity: 'INFO',
      statusCode: 200,
      message: 'request completed',
    });
    // Milliseconds to the microsecond, as written in the line.
    expect(raw().at(-1)).toMatch(/"responseTime":\d+(\.\d{1,3})?,/);
  });

  it("say the protocol and the client: the peer, or X-Forwarded-For's from a --trusted-proxies peer", async () => {
    const forwarded = { ...timestamp.headers, 'x-forwarded-for': '198.51.100.9' };
    const { app, lines } = await loggedServer({ trustedProxies: ['192.0.2.1'] });
    for (const remoteAddress of ['192.0.2.1', '192.0.2.7']) {
      await app.inject({
        ...timestamp,
        headers: forwarded,
        remoteAddress,
        payload: helloTimeStampReq(),
      });
    }
    expect(
      lines()
        .slice(-2)
        .map(({ protocol, remoteAddress }) => [protocol, remoteAddress]),
    ).toEqual([
      ['HTTP/1.1', '198.51.100.9'],
      ['HTTP/1.1', '192.0.2.7'],
    ]);
  });

  it('say the path as the client sent it, before the router cleaned it (as Go cleans it)', async () => {
    const { app, lines } = await loggedServer();
    const response = await app.inject({
      ...timestamp,
      url: '//api/v1/./timestamp/',
      payload: helloTimeStampReq(),
    });
    expect(response.statusCode).toBe(200);
    expect(lines().at(-1)).toMatchObject({ url: '//api/v1/timestamp/', statusCode: 200 });
  });

  it('carry the request ID from X-Request-Id and echo it, or generate one', async () => {
    const { app, lines } = await loggedServer();
    const given = await app.inject({
      ...timestamp,
      headers: { ...timestamp.headers, 'x-request-id': 'trace-42' },
      payload: helloTimeStampReq(),
    });
    expect(given.headers['x-request-id']).toBe('trace-42');
    expect(lines().at(-1)?.requestID).toBe('trace-42');
    const generated = await app.inject({ method: 'GET', url: '/api/v1/timestamp/certchain' });
    const id = generated.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines().at(-1)?.requestID).toBe(id);
  });

  it('use the header named by --http-request-id-header-name', async () => {
    const { app, lines } = await loggedServer({ httpRequestIdHeaderName: 'X-Correlation-Id' });
    const response = await app.inject({
      method: 'GET',
      url: '/api/v1/timestamp/certchain',
      headers: { 'x-correlation-id': 'c-7' },
    });
    expect(response.headers['x-correlation-id']).toBe('c-7');
    expect(lines().at(-1)?.requestID).toBe('c-7');
  });

  it('log rejections and 4xx at warn and 5xx at error, without secrets or request bodies', async () => {
    const { app, tsa, raw, lines } = await loggedServer();
    // A DER rejection is answered 200 (--der-rejection-status=rfc) but logged as a rejection.
    const rejected = await app.inject({ ...timestamp, payload: Buffer.from('30020500', 'hex') });
    expect(rejected.statusCode).toBe(200);
    expect(lines().at(-1)).toMatchObject({
      severity: 'WARN',
      message: 'request rejected',
      statusCode: 200,
      failInfo: 'badDataFormat',
    });

    const secret = 'kms-token-do-not-log';
    Object.assign(tsa.signer, {
      sign: async () => {
        throw new Error(`signing service refused (401)`);
      },
      signNow: undefined,
    });
    const failed = await app.inject({
      ...timestamp,
      headers: { ...timestamp.headers, authorization: `Bearer ${secret}` },
      payload: helloTimeStampReq(),
    });
    expect(failed.statusCode).toBe(500);
    // Through the request's child logger (the error's stack): still bound to the request ID.
    expect(failed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines().at(-1)).toMatchObject({
      severity: 'ERROR',
      statusCode: 500,
      failInfo: 'systemFailure',
      requestID: failed.headers['x-request-id'],
      err: { message: 'signing service refused (401)' },
    });
    const everything = raw().join('\n');
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('PRIVATE KEY');
    expect(everything).not.toContain(helloTimeStampReq().toString('base64'));
  });

  it.each(['/%zz', '/api/v1/timestamp/%E0%A4%A', '/api/v1/log/tile/%'])(
    'answer a URL the router cannot decode (%s) with the Go body, logged and counted',
    async (url) => {
      const { app, lines } = await loggedServer();
      const counted = async () =>
        Number(
          /^timestamp_authority_http_requests_total\{code="400",path="unrecognized",method="GET"\} (\d+)$/m.exec(
            await registry.getSingleMetricAsString('timestamp_authority_http_requests_total'),
          )?.[1] ?? 0,
        );
      const before = await counted();
      const response = await app.inject({
        method: 'GET',
        url,
        headers: { 'x-request-id': 'bad-url' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({
        code: 400,
        message: 'the URL is not valid: malformed percent-encoding',
      });
      expect(response.headers['x-request-id']).toBe('bad-url');
      expect(lines().at(-1)).toMatchObject({
        severity: 'WARN',
        requestID: 'bad-url',
        method: 'GET',
        url,
        statusCode: 400,
        message: 'request rejected',
      });
      // Fastify's reply timer never starts outside a route: the time is measured here, not 0.
      expect(lines().at(-1)?.responseTime).toBeGreaterThan(0);
      expect(await counted()).toBe(before + 1);
    },
  );

  it('say why a request was refused before it reached the authority (415, 413, 404): the answer’s message', async () => {
    const { app, lines } = await loggedServer();
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(refused.statusCode).toBe(415);
    expect(lines().at(-1)).toMatchObject({
      severity: 'WARN',
      statusCode: 415,
      message: 'request rejected',
      reason: refused.json<{ message: string }>().message,
    });
    const missing = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(lines().at(-1)).toMatchObject({
      statusCode: 404,
      reason: missing.json<{ message: string }>().message,
    });
  });

  it('carry at most 256 characters of a URL, marked where it was cut', async () => {
    const { app, raw, lines } = await loggedServer();
    // Up to --max-header-size of URL would otherwise make each line (a refused one too) 16 KB.
    const long = `/api/v1/timestamp/certchain?pad=${'a'.repeat(16_000)}`;
    expect((await app.inject({ method: 'GET', url: long })).statusCode).toBe(200);
    expect(lines().at(-1)?.url).toBe(`${long.slice(0, 256)}…`);
    expect(raw().at(-1)?.length).toBeLessThan(1024);
    const refused = `/nowhere/${'%22'.repeat(5_000)}`;
    expect((await app.inject({ method: 'GET', url: refused })).statusCode).toBe(404);
    expect(lines().at(-1)?.url).toBe(`${refused.slice(0, 256)}…`);
    expect(raw().at(-1)?.length).toBeLessThan(1024);
    const short = `/nowhere/${'b'.repeat(247)}`;
    expect(short).toHaveLength(256);
    await app.inject({ method: 'GET', url: short });
    expect(lines().at(-1)?.url).toBe(short);
  });

  it('are human-readable lines with --log-type dev', async () => {
    const run = runCli(['serve', '--log-type', 'dev', '--print-config']);
    expect(await run.exited).toBe(0);
    const started = runCli(['serve', '--log-type', 'dev', '--port', '0', '--metrics-port', '0']);
    const output = await new Promise<string>((resolve) => {
      const check = setInterval(() => {
        if (started.stdout().includes('serving timestamps')) {
          clearInterval(check);
          resolve(started.stdout());
        }
      }, 50);
    });
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    const first = output.split('\n')[0] ?? '';
    expect(() => JSON.parse(first) as unknown).toThrow();
    expect(first).toMatch(/INFO.*starting timestamp-server/);
  });
});
