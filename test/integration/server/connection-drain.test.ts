import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../../src/server/app.js';
import { closeGracefully, trackConnections } from '../../../src/server/listeners.js';
import { logSink } from '../../helpers/log-sink.js';
import { takeResponse } from '../../helpers/split-request.js';
import { waitUntil } from '../../helpers/poll.js';
import { createTestServer } from '../../helpers/tsa.js';

/**
 * How a drain (closeGracefully) treats each HTTP/1.1 connection, as Go's Server.Shutdown does:
 * it ends as soon as no request is left, whatever the graceful timeout (an hour here: a drain that
 * waited for it would time the test out), and a request that reaches the server during the drain
 * is answered by the routes (logged, counted), with `Connection: close`.
 */

const HOUR = 3_600_000;
const CERTCHAIN = 'GET /api/v1/timestamp/certchain HTTP/1.1\r\nHost: 127.0.0.1\r\n';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listening() {
  const { config, authority, chainPem } = await createTestServer();
  const log = logSink();
  const logger = pino({ level: 'info' }, log.sink);
  const app = await buildServer({ config, authority, chainPem, logger });
  const connections = trackConnections(app.server);
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  const { port } = app.server.address() as { port: number };
  const drain = (firstRequestGraceMs = HOUR) =>
    closeGracefully([{ app, connections }], HOUR, logger, firstRequestGraceMs);
  /** A connection the server has accepted: the client's end, and the server's. */
  const open = async () => {
    const accepted = once(app.server, 'connection') as Promise<[Socket]>;
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    cleanups.push(() => client.destroy());
    const [[server]] = await Promise.all([accepted, once(client, 'connect')]);
    return { client, server, closed: once(client, 'close') };
  };
  return { drain, open, log };
}

/** The next response on `client`: its head, and its body once Content-Length bytes are in. */
function nextResponse(client: Socket): Promise<{ head: string; body: string }> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const taken = takeResponse(data);
      if (!taken) return;
      client.off('data', onData);
      resolve({ head: taken.response.headers, body: taken.response.body.toString('latin1') });
    };
    client.on('data', onData);
  });
}

const warnings = (log: ReturnType<typeof logSink>) =>
  log.records<{ level: number; message?: string; msg?: string }>().filter((r) => r.level >= 40);

describe('a drain, for each HTTP/1.1 connection', () => {
  it('a connection accepted before the drain whose request comes after it is answered, then closed', async () => {
    const { drain, open, log } = await listening();
    const { client, closed } = await open();
    const drained = drain();
    const response = nextResponse(client);
    client.write(`${CERTCHAIN}\r\n`);
    const { head, body } = await response;
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(body).toContain('-----BEGIN CERTIFICATE-----');
    await closed;
    expect(await drained).toBe(true);
    expect(warnings(log)).toEqual([]);
  });

  it('a connection that sends nothing is closed once the first-request grace is over', async () => {
    const { drain, open, log } = await listening();
    const { closed } = await open();
    const drained = drain(0);
    await closed;
    expect(await drained).toBe(true);
    expect(warnings(log)).toEqual([]);
  });

  it('a kept-alive connection with no request is closed when the drain begins', async () => {
    const { drain, open } = await listening();
    const { client, closed } = await open();
    const response = nextResponse(client);
    client.write(`${CERTCHAIN}\r\n`);
    expect((await response).head).toMatch(/\r\nconnection: keep-alive\r\n/i);
    const drained = drain();
    await closed;
    expect(await drained).toBe(true);
  });

  it('a request begun on a kept-alive connection when the drain begins is answered by the routes and logged, with Connection: close', async () => {
    const { drain, open, log } = await listening();
    const { client, server, closed } = await open();
    const first = nextResponse(client);
    client.write(`${CERTCHAIN}\r\n`);
    await first;
    const readBefore = server.bytesRead;
    client.write(CERTCHAIN);
    await waitUntil(() => server.bytesRead > readBefore, 5);
    const drained = drain();
    const second = nextResponse(client);
    client.write('\r\n');
    const { head, body } = await second;
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(body).toContain('-----BEGIN CERTIFICATE-----');
    await closed;
    expect(await drained).toBe(true);
    const completed = log
      .records<{ msg?: string; message?: string; statusCode?: number }>()
      .filter((record) => (record.msg ?? record.message) === 'request completed');
    expect(completed).toHaveLength(2);
  });
});
