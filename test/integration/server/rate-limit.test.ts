import { afterEach, describe, expect, it } from 'vitest';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { createTestServer } from '../../helpers/tsa.js';
import { grantableRequest } from '../../helpers/seeds.js';

type App = Awaited<ReturnType<typeof createTestServer>>['app'];
const apps: App[] = [];

async function server(flags: Partial<Record<ServeOptionName, unknown>>): Promise<App> {
  const { app } = await createTestServer(flags);
  apps.push(app);
  return app;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function stamp(app: App, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'application/timestamp-query', ...headers },
    payload: grantableRequest(),
    remoteAddress,
  });
}

describe('rate limiting', () => {
  it('is off by default', async () => {
    const app = await server({});
    for (let i = 0; i < 30; i++) expect((await stamp(app)).statusCode).toBe(200);
  });

  it('answers 429 with Retry-After and the Go JSON error once a client passes its limit', async () => {
    const app = await server({ rateLimitMax: 2, rateLimitWindow: 60 });
    const first = await stamp(app);
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect((await stamp(app)).statusCode).toBe(200);
    const limited = await stamp(app);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toMatchObject({
      code: 429,
      message: expect.stringContaining('rate limit exceeded'),
    });
    // Another client has its own budget; probes and the chain are never limited.
    expect((await stamp(app, {}, '127.0.0.2')).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/ping' })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/timestamp/certchain' })).statusCode,
    ).toBe(200);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const app = await server({ rateLimitMax: 1 });
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.1' })).statusCode).toBe(200);
    // A forged header does not buy a fresh budget.
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.2' })).statusCode).toBe(429);
  });

  it('keys on X-Forwarded-For behind a trusted proxy', async () => {
    const app = await server({ rateLimitMax: 1, trustedProxies: ['127.0.0.1'] });
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.1' })).statusCode).toBe(200);
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.2' })).statusCode).toBe(200);
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.1' })).statusCode).toBe(429);
    // The same header from an untrusted peer names that peer, not the forwarded client.
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.3' }, '192.0.2.9')).statusCode).toBe(
      200,
    );
    expect((await stamp(app, { 'x-forwarded-for': '203.0.113.4' }, '192.0.2.9')).statusCode).toBe(
      429,
    );
  });

  it('refuses a zero-length window', async () => {
    await expect(createTestServer({ rateLimitMax: 5, rateLimitWindow: 0 })).rejects.toThrow(
      /rate-limit-window/,
    );
  });
});
