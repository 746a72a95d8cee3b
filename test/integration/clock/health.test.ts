import { afterEach, describe, expect, it } from 'vitest';
import { createClockGate } from '../../../src/clock/clock-gate.js';
import { ClockMonitor } from '../../../src/clock/clock-monitor.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { reject } from '../../../src/tsp/rejection.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { replyStatus } from '../../helpers/remote-tsa.js';
import { answer, silent, SntpResponder, until } from '../../helpers/sntp-responder.js';
import { createTestServer, silentLogger } from '../../helpers/tsa.js';
import { ONE_SERVER_SETTINGS } from '../../helpers/clock-settings.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A test server whose authority is guarded by a monitor of one in-process responder. */
async function gatedServer(requireTimeSync = false) {
  const responder = await SntpResponder.start(answer());
  cleanups.push(() => responder.close());
  const monitor = new ClockMonitor({
    ...ONE_SERVER_SETTINGS,
    servers: [responder.address],
    retryDelayMs: 10,
  });
  const server = await createTestServer({}, {}, [createClockGate(monitor, { requireTimeSync })]);
  cleanups.push(() => server.app.close());
  return { ...server, responder, monitor };
}

async function derRequest() {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const data = dir.write('data.txt', 'clock integrity');
  const query = dir.path('request.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const { readFileSync } = await import('node:fs');
  return { dir, body: readFileSync(query) };
}

const get = (app: Awaited<ReturnType<typeof gatedServer>>['app'], url: string) =>
  app.inject({ method: 'GET', url });

describe('health routes and the clock gate', () => {
  it('serves tokens and answers every probe while synced', async () => {
    const { app, monitor } = await gatedServer();
    expect((await monitor.runRound()).state).toBe('synced');
    const ping = await get(app, '/ping');
    expect([ping.statusCode, ping.body]).toEqual([200, '.']);
    expect((await get(app, '/PING')).statusCode).toBe(200);
    expect([(await get(app, '/livez')).statusCode, (await get(app, '/readyz')).body]).toEqual([
      200,
      'ok',
    ]);
    const { body } = await derRequest();
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: body,
    });
    expect(response.statusCode).toBe(200);
  });

  it('refuses DER and JSON requests while drifted: 503, Retry-After, timeNotAvailable', async () => {
    const { app, monitor, responder } = await gatedServer();
    responder.behaviour = answer({ offsetMs: 30_000 });
    expect((await monitor.runRound()).state).toBe('drifted');

    const { dir, body } = await derRequest();
    const der = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: body,
    });
    expect(der.statusCode).toBe(503);
    expect(der.headers['retry-after']).toBe('10');
    expect(der.headers['content-type']).toBe('application/timestamp-reply');
    const text = await replyStatus(der.rawPayload, dir);
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain("the TSA's time source is not available");
    expect(text).toContain(
      'clock drifted: local clock differs from 1 of 1 NTP servers by more than 0.5 s',
    );

    const json = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        hashAlgorithm: 'sha256',
        artifactHash: Buffer.alloc(32, 1).toString('base64'),
      }),
    });
    expect(json.statusCode).toBe(503);
    expect(json.headers['retry-after']).toBe('10');
    expect(json.json()).toEqual({ code: 503, message: 'Error generating timestamp response' });

    const ping = await get(app, '/ping');
    expect(ping.statusCode).toBe(503);
    expect(ping.body).toMatch(/^clock drifted: local clock differs/);
    expect((await get(app, '/readyz')).statusCode).toBe(503);
    expect((await get(app, '/livez')).statusCode).toBe(200);

    responder.behaviour = answer();
    expect((await monitor.runRound()).state).toBe('synced');
    expect((await get(app, '/readyz')).statusCode).toBe(200);
  });

  it('issues while unverified by default, and refuses with --require-time-sync', async () => {
    for (const strict of [false, true]) {
      const { app, monitor, responder } = await gatedServer(strict);
      responder.behaviour = silent;
      expect((await monitor.runRound()).state).toBe('unverified');
      const { body } = await derRequest();
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: body,
      });
      expect(response.statusCode).toBe(strict ? 503 : 200);
      expect((await get(app, '/readyz')).statusCode).toBe(strict ? 503 : 200);
      expect((await get(app, '/ping')).statusCode).toBe(strict ? 503 : 200);
    }
  });

  it('turns /ping and /readyz red for any guard, not only the clock', async () => {
    const { app } = await createTestServer({}, {}, [
      () => reject.timeNotAvailable('certificate expired'),
    ]);
    cleanups.push(() => app.close());
    const ping = await get(app, '/ping');
    expect([ping.statusCode, ping.body]).toEqual([503, 'certificate expired']);
    expect((await get(app, '/readyz')).statusCode).toBe(503);
    expect((await get(app, '/livez')).statusCode).toBe(200);
  });

  it('reports draining on /readyz only', async () => {
    const { app, state } = await createTestServer();
    cleanups.push(() => app.close());
    expect((await get(app, '/readyz')).statusCode).toBe(200);
    state.draining = true;
    const readyz = await get(app, '/readyz');
    expect([readyz.statusCode, readyz.body]).toEqual([
      503,
      'draining: the server is shutting down',
    ]);
    expect((await get(app, '/ping')).statusCode).toBe(200);
    expect((await get(app, '/livez')).statusCode).toBe(200);
  });

  it('answers 405 to other methods on the health routes', async () => {
    const { app } = await createTestServer();
    cleanups.push(() => app.close());
    for (const url of ['/ping', '/livez', '/readyz']) {
      const response = await app.inject({ method: 'POST', url });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD');
    }
  });
});

describe('clock flags in startServer', () => {
  const base = { port: 0, metricsPort: 0, host: '127.0.0.1' };

  it('refuses to start on an invalid NTP configuration', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = dir.write(
      'ntp.yaml',
      'request_attempts: 0\nrequest_timeout: 1\nmax_time_delta: 1\nnum_servers: 1\nserver_threshold: 1\nperiod: 1\nservers: [127.0.0.1]\n',
    );
    await expect(
      startServer(resolveServeConfig({ ...base, ntpMonitoring: path }), silentLogger),
    ).rejects.toThrow('request_attempts must be at least 1');
  });

  it('refuses --require-time-sync together with --disable-ntp-monitoring', async () => {
    // A config rule: refused before anything starts.
    expect(() =>
      resolveServeConfig({ ...base, disableNtpMonitoring: true, requireTimeSync: true }),
    ).toThrow(/--require-time-sync needs NTP monitoring/);
  });

  it('starts without a monitor when disabled, and with one otherwise', async () => {
    const disabled = await startServer(
      resolveServeConfig({ ...base, disableNtpMonitoring: 'true' }),
      silentLogger,
    );
    cleanups.push(() => disabled.close());
    expect(disabled.clock).toBeUndefined();

    const responder = await SntpResponder.start(silent);
    cleanups.push(() => responder.close());
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = dir.write(
      'ntp.yaml',
      `request_attempts: 1\nrequest_timeout: 1\nmax_time_delta: 1\nnum_servers: 1\nserver_threshold: 1\nperiod: 60\nservers: ["${responder.address.name}"]\n`,
    );
    const strict = await startServer(
      resolveServeConfig({ ...base, ntpMonitoring: path, requireTimeSync: true }),
      silentLogger,
    );
    cleanups.push(() => strict.close());
    expect(strict.clock?.status.state).toBe('unverified');
    // The first round starts with the server: the responder is asked without waiting a period.
    const readyz = await fetch(`${strict.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toMatch(/^clock unverified: /);
    await until(() => responder.queries === 1, 'the first round');
  });
});
