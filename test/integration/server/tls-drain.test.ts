import { once } from 'node:events';
import { createSecureServer, connect as connectH2 } from 'node:http2';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { connect as connectTls } from 'node:tls';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { closeGracefully, trackConnections } from '../../../src/server/listeners.js';
import { selfSignedTls } from '../../fakes/tls.js';

/**
 * A drain and the TLS connections whose handshake ends after it began (accepted before the
 * signal, slow to agree keys): they are drained like the others, not left to hold the drain until
 * --graceful-timeout. The graceful timeout is an hour: a drain that waited for it would time the
 * test out.
 */

const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tlsListener() {
  const { key, cert } = selfSignedTls();
  // HTTP/2 and HTTP/1.1 over TLS on one port, as the server's TLS listener.
  const server = createSecureServer({ key, cert, allowHTTP1: true }, (_request, response) =>
    response.end('ok'),
  );
  const connections = trackConnections(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  const { port } = server.address() as AddressInfo;
  const app = { server, close: () => Promise.resolve() };
  const drain = (firstRequestGraceMs: number) =>
    closeGracefully([{ app, connections }], HOUR, logger, firstRequestGraceMs);
  /** A TCP connection the server has accepted, its TLS handshake not begun. */
  const accepted = async () => {
    const accepting = once(server, 'connection');
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => undefined);
    cleanups.push(() => socket.destroy());
    await Promise.all([accepting, once(socket, 'connect')]);
    return socket;
  };
  return { drain, accepted };
}

describe('a drain, for a TLS connection whose handshake ends after it began', () => {
  it('HTTP/2: the session gets GOAWAY at once, and the drain ends', async () => {
    const { drain, accepted } = await tlsListener();
    const socket = await accepted();
    const drained = drain(HOUR);
    const session = connectH2('https://127.0.0.1', {
      createConnection: () =>
        connectTls({ socket, ALPNProtocols: ['h2'], rejectUnauthorized: false }),
    });
    session.on('error', () => undefined);
    cleanups.push(() => session.destroy());
    await once(session, 'goaway');
    expect(await drained).toBe(true);
  });

  it('HTTP/1.1, after the first-request grace: closed as idle, and the drain ends', async () => {
    const { drain, accepted } = await tlsListener();
    const socket = await accepted();
    const drained = drain(0);
    // The grace (0 ms) is over before the handshake begins: a timer set after the grace's fires
    // after it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const tls = connectTls({ socket, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false });
    tls.on('error', () => undefined);
    cleanups.push(() => tls.destroy());
    await once(tls, 'close');
    expect(await drained).toBe(true);
  });
});
