/**
 * An answer larger than any Vault's (a proxy streaming a download, or not Vault at all) is cut at
 * MAX_ANSWER_BYTES with an error naming the call, not read whole into memory: here the
 * answer never ends, so a read without the cap would never return.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES } from '../../../../src/signers/kms/answer-cap.js';
import { VaultError, vaultRequest } from '../../../../src/signers/kms/vault-client.js';

let server: Server;
let address: string;
let sent = 0;
let closed: Promise<void>;

beforeAll(async () => {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let connectionClosed: () => void;
  closed = new Promise((resolve) => (connectionClosed = resolve));
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"data": "');
    // Endless: a chunk each time the socket takes more, until the client goes away.
    const more = () => {
      while (!response.destroyed) {
        sent += chunk.length;
        if (!response.write(chunk)) return;
      }
    };
    response.on('drain', more);
    response.on('close', () => connectionClosed());
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it('an endless answer: a VaultError naming the call, the connection closed', async () => {
  const error = await vaultRequest(
    { address, token: 'hvs.answer-size' },
    'GET',
    'transit/keys/tsa',
    undefined,
  ).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(VaultError);
  expect(error).toMatchObject({
    code: 'BAD_ANSWER',
    message: 'Vault GET /v1/transit/keys/tsa: HTTP 200 answer larger than 4 MiB, not read',
  });
  await closed;
  // What the server had written when the client went away: the cap and what was in flight.
  expect(sent).toBeGreaterThan(MAX_ANSWER_BYTES - 64 * 1024);
});
