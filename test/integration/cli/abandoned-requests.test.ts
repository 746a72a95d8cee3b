import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { abandonCliRequests, cliFetch } from '../../../src/cli/timestamp-cli/http-fetch.js';

/**
 * What timestamp-cli does after a failed command (timestamp-cli.ts): abandonCliRequests() ends the
 * requests still running, which would otherwise keep the process alive (with --timeout 0, for
 * ever), against a server on 127.0.0.1 that never answers.
 */
describe('abandonCliRequests', () => {
  it('ends a request nobody awaits any more: it rejects, and its connection closes', async () => {
    // Its connection's 'close', once the request has arrived (an object: a promise resolved
    // with a promise would wait for that one).
    let asked!: (request: { closed: Promise<void> }) => void;
    const arrived = new Promise<{ closed: Promise<void> }>((resolve) => (asked = resolve));
    const server = createServer((request) =>
      asked({ closed: new Promise((resolve) => request.socket.once('close', resolve)) }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const pending = cliFetch(`http://127.0.0.1:${port}/never`, {}, 0);
      const outcome = pending.then(
        () => 'answered',
        () => 'rejected',
      );
      const { closed } = await arrived;
      abandonCliRequests();
      expect(await outcome).toBe('rejected');
      await closed;
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('leaves the next request a working client', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const get = async () => (await cliFetch(`http://127.0.0.1:${port}/`, {}, 0)).text();
    try {
      expect(await get()).toBe('ok');
      abandonCliRequests();
      expect(await get()).toBe('ok');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
