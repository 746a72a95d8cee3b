import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createServingState } from '../src/server/serving-state.js';
import { buildServer } from '../src/server/app.js';
import { createTestServer, silentLogger } from './helpers/tsa.js';
import { spawnServer } from './helpers/spawn-server.js';
import { helloTimeStampReq } from './loadtest/request.js';

interface RawResponse {
  status: number;
  headers: string;
  body: Buffer;
}

/** A raw HTTP/1.1 POST whose body is sent in two parts, so the request is in flight in between. */
function splitRequest(url: string) {
  const { hostname, port } = new URL(url);
  const body = helloTimeStampReq();
  const socket: Socket = connect(Number(port), hostname);
  const response = new Promise<RawResponse>((resolve, reject) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const headers = data.subarray(0, end).toString();
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (data.length >= end + 4 + length) {
        resolve({
          status: Number(headers.split(' ')[1]),
          headers,
          body: data.subarray(end + 4, end + 4 + length),
        });
        socket.end();
      }
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed before a response: ${data.toString()}`)),
    );
  });
  const connected = new Promise<void>((resolve) => socket.once('connect', resolve));
  return {
    response,
    sendFirstPart: async () => {
      await connected;
      socket.write(
        `POST /api/v1/timestamp HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/timestamp-query\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 20));
    },
    sendRest: () => socket.write(body.subarray(20)),
  };
}

/** Resolves once new connections to `url` are refused. */
async function listenerClosed(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(Number(port), hostname);
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', () => resolve(true));
    });
    if (refused) return;
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
});
