import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestTimestamp } from '../../../src/cli/timestamp-cli/http-client.js';
import { getLogResource } from '../../../src/cli/timestamp-cli/log-client.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';

const MiB = 1 << 20;

/** Writes `bytes` zero bytes in 64 KiB chunks, minding backpressure, then ends. */
async function stream(response: ServerResponse, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let sent = 0; sent < bytes && !response.destroyed; sent += chunk.length) {
    if (!response.write(chunk)) {
      await new Promise((resolve) => {
        response.once('drain', resolve);
        response.once('close', resolve);
      });
    }
  }
  response.end();
}

async function failure(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('the request unexpectedly succeeded');
}

describe('timestamp-cli response bodies (size cap, timeout while reading)', () => {
  let server: Server;
  let base: string;
  const stalled: ServerResponse[] = [];
  beforeAll(async () => {
    const handle = async (request: IncomingMessage, response: ServerResponse) => {
      // The behaviour: in the path for GETs, in the body for requestTimestamp's POST.
      let path = request.url ?? '';
      for await (const chunk of request) path += String(chunk);
      if (path.includes('stall')) {
        response.writeHead(200, { 'Content-Type': 'application/timestamp-reply' });
        response.flushHeaders();
        stalled.push(response); // headers, then nothing
        return;
      }
      const size = Number(/size=(\d+)/.exec(path)?.[1] ?? 0);
      const declared = path.includes('declared');
      response.writeHead(200, declared ? { 'Content-Length': String(size) } : {});
      if (declared) response.end();
      else void stream(response, size);
    };
    server = createServer((request, response) => void handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const response of stalled) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (behaviour: string, timeoutMs = 0) =>
    requestTimestamp(base, Buffer.from(behaviour), timeoutMs);

  it('a time-stamp response over 1 MiB is refused', async () => {
    const error = await failure(post(`size=${3 * MiB}`));
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toBe(
      'error getting timestamp: the response is larger than 1048576 bytes (1 MiB), the most accepted',
    );
  });

  it('a declared Content-Length over the cap is refused before reading', async () => {
    const error = await failure(post(`declared-size=${5 * MiB}`));
    expect(error.message).toMatch(/larger than 1048576 bytes/);
  });

  it('a server that stalls after its headers fails with the usual prefix at --timeout', async () => {
    const error = await failure(post('stall', 200));
    expect(error.code).toBe('REQUEST_FAILED');
    expect(error.message).toMatch(/^error getting timestamp: .*aborted due to timeout/);
  });

  it('a log resource over 20 MiB is refused; one of 16 MiB (an entry bundle can be) is read', async () => {
    const error = await failure(getLogResource(base, `x?size=${21 * MiB}`, 0));
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toMatch(/^GET .*: the response is larger than 20971520 bytes/);
    const body = await getLogResource(base, `x?size=${16 * MiB}`, 0);
    expect(body?.length).toBe(16 * MiB);
  });

  it('a log server that stalls after its headers fails naming the URL', async () => {
    const error = await failure(getLogResource(base, 'stall', 200));
    expect(error.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/log\/stall: .*timeout/);
  });
});
