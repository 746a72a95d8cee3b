/**
 * The HTTP bench's check of the answers before its load: a server that refuses the bench request
 * must stop the bench, not be measured as if it issued tokens.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAnswer } from '../../../bench/http.js';

let server: Server | undefined;
afterEach(
  () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
);

/** A server answering every request with `status` and `body`; returns its URL. */
async function answering(status: number, body: Uint8Array): Promise<string> {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(status).end(body));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

// TimeStampResp { PKIStatusInfo { status 2 (rejection) } }
const REJECTION = Uint8Array.from([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]);

describe('bench/http checkAnswer', () => {
  it('refuses a TSA whose 200 answer is a rejection', async () => {
    const url = await answering(200, REJECTION);
    await expect(checkAnswer('server', url, 'tsa')).rejects.toThrow(/does not grant/);
  });

  it('accepts any non-empty 200 from the floor, and refuses a non-200 or an empty body', async () => {
    await expect(checkAnswer('floor', await answering(200, REJECTION), 'floor')).resolves.toBe(
      undefined,
    );
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await expect(
      checkAnswer('floor', await answering(200, new Uint8Array()), 'floor'),
    ).rejects.toThrow(/200, 0 bytes/);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await expect(checkAnswer('floor', await answering(413, REJECTION), 'floor')).rejects.toThrow(
      /413/,
    );
  });
});
