import { describe, expect, it } from 'vitest';
import { createServingState } from '../../../src/server/serving-state.js';
import { buildServer } from '../../../src/server/app.js';
import { createTestServer, silentLogger } from '../../helpers/tsa.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-server.js';
import { listenerClosed, splitRequest } from '../../helpers/split-request.js';

/**
 * Resolves once the server has logged a line containing `text`; rejects once it has ended without.
 * (A server a failed test leaves running is killed when the test ends: spawnServer.)
 */
async function logged(server: SpawnedServer, text: string): Promise<void> {
  let ended = false;
  void server.exited.then(() => (ended = true));
  while (!server.lines.some((line) => line.includes(text))) {
    if (ended) throw new Error(`the server ended without logging "${text}"`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('graceful shutdown', () => {
  it('/readyz answers 503 once draining', async () => {
    const { config, authority, chainPem } = await createTestServer();
    const state = createServingState();
    const app = await buildServer({ config, authority, chainPem, logger: silentLogger, state });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    state.draining = true;
    const draining = await app.inject({ method: 'GET', url: '/readyz' });
    expect(draining.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
  });

  it('on SIGTERM stops accepting, finishes every in-flight request, then exits 0', async () => {
    const server = await spawnServer();
    const burst = Array.from({ length: 40 }, () => splitRequest(server.url));
    await Promise.all(burst.map((request) => request.sendFirstPart()));
    // A full request on another connection is answered only after the burst's headers were read.
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);

    server.child.kill('SIGTERM');
    await listenerClosed(server.url);
    burst.forEach((request) => request.sendRest());
    const responses = await Promise.all(burst.map((request) => request.response));

    expect(responses.map((response) => response.status)).toEqual(burst.map(() => 200));
    for (const response of responses) {
      expect(response.headers).toMatch(/content-type: application\/timestamp-reply/i);
      // TimeStampResp ::= SEQUENCE { status PKIStatusInfo (granted = 0), timeStampToken }
      expect(response.body.subarray(0, 1).toString('hex')).toBe('30');
      expect(response.body.includes(Buffer.from('3003020100', 'hex'))).toBe(true);
    }
    expect(await server.exited).toBe(0);
    expect(server.lines.some((line) => line.includes('received SIGTERM'))).toBe(true);
  });

  it('cuts requests still unfinished after --graceful-timeout and exits 0', async () => {
    const server = await spawnServer(['--graceful-timeout', '1s']);
    const stuck = splitRequest(server.url);
    await stuck.sendFirstPart();
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    server.child.kill('SIGINT');
    await expect(stuck.response).rejects.toThrow(/closed before a response|ECONNRESET/);
    expect(await server.exited).toBe(0);
    expect(server.lines.some((line) => line.includes('did not finish within 1000 ms'))).toBe(true);
  });

  for (const [mode, args] of [
    ['one process', []],
    ['--workers 2', ['--workers', '2']],
  ] as const) {
    it(`${mode}: a second signal during the drain waits for it; the in-flight request is answered, then exit 0`, async () => {
      const server = await spawnServer([...args]);
      const inFlight = splitRequest(server.url);
      await inFlight.sendFirstPart();
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);

      server.child.kill('SIGTERM');
      await logged(server, 'received SIGTERM, draining');
      server.child.kill('SIGINT');
      // Whichever comes first: the process ending mid-drain, or its word that it waits.
      const first = await Promise.race([
        server.exited.then(() => 'exited'),
        logged(server, 'received SIGINT, a drain is already under way').then(() => 'waits'),
      ]);
      expect(first).toBe('waits');
      expect(server.child.exitCode).toBeNull();
      inFlight.sendRest();
      expect((await inFlight.response).status).toBe(200);
      expect(await server.exited).toBe(0);
    });
  }
});
