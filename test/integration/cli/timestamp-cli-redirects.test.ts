import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestTimestamp } from '../../../src/cli/timestamp-cli/http-client.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('timestamp-cli does not follow redirects', () => {
  let redirecting: Server;
  let elsewhere: Server;
  let base: string;
  let target: string;
  const reached: string[] = [];
  beforeAll(async () => {
    // The redirect target: another host (port) that would take the request and answer.
    elsewhere = createServer((request, response) => {
      reached.push(`${request.method} ${request.url}`);
      response.writeHead(500).end('{"message":"reached the other server"}');
    });
    target = await listen(elsewhere);
    // Answers the redirect status the request body names.
    redirecting = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        response.writeHead(Number(body), { Location: `${target}/api/v1/timestamp` }).end();
      });
    });
    base = await listen(redirecting);
  });
  afterAll(async () => {
    for (const server of [redirecting, elsewhere]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.each([301, 302, 303, 307, 308])('HTTP %i is an error naming the Location', async (status) => {
    reached.length = 0;
    let failure: unknown;
    try {
      await requestTimestamp(base, Buffer.from(String(status)), 5_000);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CliError);
    expect((failure as CliError).code).toBe('SERVER_REFUSED');
    expect((failure as CliError).message).toBe(
      `error getting timestamp: HTTP ${status}: the server redirects to ${target}/api/v1/timestamp, ` +
        'and redirects are not followed (give that server as --timestamp_server)',
    );
    expect(reached).toEqual([]);
  });
});
