import { readFileSync } from 'node:fs';
import {
  connect as connectHttp2,
  constants,
  createSecureServer,
  type ClientHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { enforceStreamTimeouts } from '../../../src/server/http2-stream-timeouts.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { http2Frame } from '../../helpers/http2-frames.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import {
  open,
  timestampHeaders,
  trickle,
  watch,
  type Observed,
} from '../../helpers/slow-client.js';
import { silentLogger } from '../../helpers/tsa.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';

/*
 * Nothing here asserts how long a cut took at most: which timer cut a connection is told by what
 * the server did (408 or not, the RST_STREAM or GOAWAY code, the handshake failure's reason), by
 * setting every timer not under test to an hour (no cut of theirs can come within the test's
 * life; vitest's timeout, a hang guard, fails a test left waiting for one), and, against Node's
 * and Fastify's own defaults (60 s to 300 s) that a server which stopped setting a timer would
 * fall back to, by a client timer on the same event loop (a trickling sender, a pinger, a
 * ticker), which cannot get ahead of the server's timers however slow the machine is. See
 * ticker() below.
 */

// Small timeouts so the cuts happen within the test.
const READ_MS = 400;
const IDLE_MS = 400;
/** The timeouts a test does not test: none of their cuts can come while it runs. */
const UNREACHED = '1h';
const SHORT = {
  readTimeout: `${READ_MS}ms`,
  cleanupTimeout: `${IDLE_MS}ms`,
  writeTimeout: UNREACHED,
};

/**
 * A client-side clock for the lower bounds, started before connect() (or before the request that
 * starts the timer is written): the server cannot start its timer earlier, so the cut comes at
 * least the timer's length later. performance.now(), monotonic: Date.now() can be stepped.
 */
const clock = () => performance.now();
/**
 * Node's timers count on the event loop's clock: whole milliseconds (truncated) of a monotonic
 * clock that may be the kernel's coarse one (libuv's UV_CLOCK_FAST: up to a tick, 1 ms, behind),
 * so a timer can fire up to 2 ms before its length has passed on performance.now()'s precise
 * clock. (Node's HTTP/1.1 request deadlines compare precise times; the slack costs them nothing.)
 */
const CLOCK_SLACK_MS = 2;
const notBefore = (timerMs: number) => timerMs - CLOCK_SLACK_MS;

/**
 * Tells a cut at the timer under test from one at a default of Node's or Fastify's (60 s and more)
 * without a clock: server and client share this process's event loop, which runs due timers in
 * the order they fall due. A tick every TICK_MS falls due TICK_MS after the previous one ran, so
 * before a server timer due `ms` after it started (about when the ticker did) fires, the ticker
 * ticks at most ms / TICK_MS times, plus one for each loop turn the cut takes to reach the client,
 * however slowly the machine runs: a busy machine makes it tick less, never more. MAX_TICKS (10 s of
 * ticks) is 25 times the timers under test (a few more loop turns than that for Node's 1 s check
 * of HTTP/1.1 deadlines), and a seventh of the 72 s of the shortest such default.
 */
const TICK_MS = 50;
const MAX_TICKS = 200;
function ticker(): { stop(): number } {
  let ticks = 0;
  const timer = setInterval(() => ticks++, TICK_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return ticks;
    },
  };
}

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});
async function start(flags: Partial<Record<ServeOptionName, unknown>>) {
  const server = await startServer(
    resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true, ...flags }),
    silentLogger,
  );
  running.push(server);
  return server;
}

const PING = 'GET /ping HTTP/1.1\r\nHost: tsa\r\nConnection: close\r\n\r\n';
const TIMESTAMP = Buffer.concat([
  Buffer.from(
    timestampHeaders(helloTimeStampReq().length).replace(
      '\r\n\r\n',
      '\r\nConnection: close\r\n\r\n',
    ),
  ),
  helloTimeStampReq(),
]);

/** Sends a whole request on a new connection and resolves with everything received. */
async function exchange(url: string, request: Buffer | string): Promise<string> {
  const connection = watch(await open(url));
  connection.socket.write(request);
  return (await connection.closed).received;
}

describe('slow and idle clients on the HTTP listener', () => {
  it('answers 408 to a connection that sends nothing, at --read-timeout', async () => {
    const server = await start(SHORT);
    const since = clock();
    const { received } = await watch(await open(server.url)).closed;
    // A 408 is the read deadline's answer alone: the inactivity timer leaves a request still
    // arriving to it (inactive-connections.ts) and would close without one; keep-alive's idle timer
    // applies once a request was answered. Had the server not set Node's request deadline, its
    // default (300 s) would outlast the test; its headers deadline is the next test's.
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(clock() - since).toBeGreaterThanOrEqual(notBefore(READ_MS));
  });

  it('cuts headers trickled slower than --read-timeout allows, with 408', async () => {
    const server = await start(SHORT);
    const connection = watch(await open(server.url));
    const headers = timestampHeaders(10);
    const sender = trickle(connection.socket, headers, 50);
    const { received } = await connection.closed;
    // The read deadline's 408 (see above), before the headers were all sent: the sender's byte
    // every 50 ms runs on the server's event loop, so it is a ticker (see ticker()) that would
    // have sent them all (5 s of ticks) before a default of Node's (60 s) cut them.
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(sender.sent()).toBeLessThan(headers.length);
  });

  it('cuts a body trickled slower than --read-timeout allows, with 408', async () => {
    const server = await start(SHORT);
    const connection = watch(await open(server.url));
    const body = helloTimeStampReq();
    connection.socket.write(timestampHeaders(body.length));
    const sender = trickle(connection.socket, body, 50);
    const { received } = await connection.closed;
    // The read deadline's 408, before the body was all sent (as the headers above).
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(sender.sent()).toBeLessThan(body.length);
  });

  it('closes a keep-alive connection idle for --cleanup-timeout (plus Node’s 1 s grace)', async () => {
    const server = await start(SHORT);
    const connection = watch(await open(server.url));
    // Before the request is written: the server starts the idle timer once it has answered it.
    const since = clock();
    connection.socket.write('GET /ping HTTP/1.1\r\nHost: tsa\r\n\r\n');
    await expect
      .poll(() => connection.received(), UNTIL_SETTLED)
      .toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\n\.$/);
    const { received } = await connection.closed;
    // One response, then the server closed the connection without a 408: an idle close, not the
    // read deadline's. The inactivity timer (--write-timeout), which would close it the same way,
    // is an hour off.
    expect(received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(clock() - since).toBeGreaterThanOrEqual(notBefore(IDLE_MS));
  });
});

describe('slow clients on the metrics listener', () => {
  it('cuts headers trickled slower than --read-timeout allows, with 408', async () => {
    const server = await start(SHORT);
    const connection = watch(await open(server.metricsUrl));
    const request = 'GET /metrics HTTP/1.1\r\nHost: tsa\r\n\r\n';
    const sender = trickle(connection.socket, request, 50);
    const { received } = await connection.closed;
    // The read deadline's 408, before the headers were all sent (as on the HTTP listener).
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(sender.sent()).toBeLessThan(request.length);
  });
});

describe('many slow clients', () => {
  const SLOW_CLIENTS = 200;
  /** A body that takes 42 minutes to trickle: it is never all sent. */
  const SLOW_BODY = 10_000;
  /**
   * No timer of the server's cuts a slow client while the test runs (it ends them itself): what is
   * tested here is that they do not hold up others, however slowly a busy machine serves those.
   * That the server cuts slow clients at --read-timeout is the tests above's.
   */
  const HOLD = { readTimeout: '1h', writeTimeout: '1h', cleanupTimeout: '1h' };

  /**
   * Opens `count` connections, each sending a time-stamp request's headers whole and then its body
   * one byte every 250 ms, and waits until the server has accepted them all. Only --read-timeout
   * (Node's requestTimeout) applies to a body still arriving: Node's headersTimeout (at most 60 s)
   * is over once the headers are in.
   */
  async function holdSlowConnections(server: RunningServer, count: number) {
    const connections = await Promise.all(
      Array.from({ length: count }, async () => watch(await open(server.url))),
    );
    for (const { socket } of connections) {
      socket.write(timestampHeaders(SLOW_BODY));
      trickle(socket, Buffer.alloc(SLOW_BODY), 250);
    }
    await expect.poll(() => accepted(server), UNTIL_SETTLED).toBe(count);
    return connections;
  }

  /** The connections the server holds now. */
  const accepted = (server: RunningServer) =>
    new Promise<number>((resolve, reject) =>
      server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );

  /** The client ends its slow connections; resolves once the server has let go of them all. */
  async function endSlowConnections(server: RunningServer, slow: Observed[]) {
    for (const { socket } of slow) socket.destroy();
    await Promise.all(slow.map((connection) => connection.closed));
    await expect.poll(() => accepted(server), UNTIL_SETTLED).toBe(0);
  }

  it('keeps issuing timestamps and answering /ping while 200 slow clients are connected', async () => {
    const server = await start(HOLD);
    const slow = await holdSlowConnections(server, SLOW_CLIENTS);

    // Raw requests with `Connection: close`: a kept-alive connection of fetch's would still count
    // below, where the server must have let go of every connection.
    const answer = await exchange(server.url, TIMESTAMP);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const dir = tempDir();
    try {
      const body = Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1');
      const tsr = dir.write('reply.tsr', body);
      expect(await openssl(['ts', '-reply', '-in', tsr, '-text'])).toContain('Status: Granted.');
    } finally {
      dir.cleanup();
    }
    expect(await exchange(server.url, PING)).toMatch(/^HTTP\/1\.1 200 /);
    // The slow clients were all still connected, their requests still arriving, while those
    // requests were served: none was answered or cut to make room.
    expect(slow.filter((connection) => connection.isClosed())).toHaveLength(0);
    expect(slow.filter((connection) => connection.received() !== '')).toHaveLength(0);

    await endSlowConnections(server, slow);
    expect(await exchange(server.url, PING)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('at --max-connections refuses new connections until slow ones go', async () => {
    const maxConnections = 20;
    const server = await start({ ...HOLD, maxConnections });
    const slow = await holdSlowConnections(server, maxConnections);

    // Node closes a connection beyond the limit as soon as it accepts it: nothing is answered.
    expect(await exchange(server.url, PING)).toBe('');
    expect(await exchange(server.url, TIMESTAMP)).toBe('');
    expect(slow.filter((connection) => connection.isClosed())).toHaveLength(0);

    await endSlowConnections(server, slow);
    expect(await exchange(server.url, PING)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await exchange(server.url, TIMESTAMP)).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('slow and idle clients on the HTTPS listener (HTTP/2 and HTTP/1.1)', () => {
  const dir = tempDir();
  const tls = selfSignedTls();
  const cert = dir.write('server.pem', tls.cert);
  const key = dir.write('server.key', tls.key);
  const ca = tls.cert;
  afterAll(() => dir.cleanup());

  const startTls = (flags: Partial<Record<ServeOptionName, unknown>> = {}) =>
    start({ tlsPort: 0, tlsCertificate: cert, tlsKey: key, ...SHORT, ...flags });

  function openTls(url: string, alpn: string): Promise<TLSSocket> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connectTls({ host: hostname, port: Number(port), ca, ALPNProtocols: [alpn] });
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  function openHttp2(url: string): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = connectHttp2(url, { ca });
      session.once('connect', () => resolve(session));
      session.once('error', reject);
      session.once('close', () => reject(new Error('closed before connecting')));
    });
  }

  it('cuts a connection that never starts the TLS handshake, at --read-timeout, as no request', async () => {
    const server = await startTls();
    const metric = async (pattern: RegExp) =>
      pattern.exec(await (await fetch(server.metricsUrl)).text())?.[1] ?? '0';
    const unparsed = () =>
      metric(/^timestamp_authority_http_unparsed_requests_total\{code="400"\} (\d+)$/m);
    const handshakeTimeouts = async () =>
      Number(
        await metric(
          /^timestamp_authority_tls_handshake_failures_total\{reason="timeout"\} (\d+)$/m,
        ),
      );
    const before = await unparsed();
    const timeoutsBefore = await handshakeTimeouts();
    const since = clock();
    const connection = watch(await open(server.tlsUrl ?? ''));
    const ticks = ticker();
    const { received } = await connection.closed;
    expect(received).toBe('');
    // Cut by the handshake timer (ERR_TLS_HANDSHAKE_TIMEOUT), no other: it is --read-timeout's,
    // not Node's default of 120 s (see ticker()).
    expect(await handshakeTimeouts()).toBe(timeoutsBefore + 1);
    expect(ticks.stop()).toBeLessThan(MAX_TICKS);
    expect(clock() - since).toBeGreaterThanOrEqual(notBefore(READ_MS));
    // It sent no request: no malformed one (400) is counted (its failed handshake is).
    expect(await unparsed()).toBe(before);
  });

  it('HTTP/2: cuts a client that negotiates h2 and sends no connection preface, at --read-timeout', async () => {
    // Not at --cleanup-timeout (620 s by default): a session without a stream has no read timeout.
    // With it and --write-timeout an hour off, only the preface timer can close the session.
    const server = await startTls({ cleanupTimeout: UNREACHED });
    const since = clock();
    await watch(await openTls(server.tlsUrl ?? '', 'h2')).closed;
    expect(clock() - since).toBeGreaterThanOrEqual(notBefore(READ_MS));
  });

  it('HTTP/1.1 over TLS: cuts slow headers with 408', async () => {
    const server = await startTls();
    const connection = watch(await openTls(server.tlsUrl ?? '', 'http/1.1'));
    const headers = timestampHeaders(10);
    const sender = trickle(connection.socket, headers, 50);
    const { received } = await connection.closed;
    // The read deadline's 408, before the headers were all sent (as on the HTTP listener).
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(sender.sent()).toBeLessThan(headers.length);
  });

  it('HTTP/2: a stream whose body trickles gets 408; the session goes on', async () => {
    // The session must outlive the cut stream: it is not idle before the ping.
    const server = await startTls({ cleanupTimeout: UNREACHED });
    const session = await openHttp2(server.tlsUrl ?? '');
    try {
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
        'content-type': 'application/timestamp-query',
      });
      const body = helloTimeStampReq();
      const sender = trickle(stream, body, 50);
      let status = 0;
      let answer = '';
      stream.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
      stream.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      stream.on('error', () => undefined);
      // Node's client waits for its own end of a stream reset with NO_ERROR: end it on the answer.
      await new Promise((resolve) => stream.once('end', resolve));
      sender.stop();
      stream.close();
      // The stream read timer's 408 (the write timer resets with CANCEL and answers nothing),
      // before the body was all sent: a timer left at a default of 60 s or more would have let
      // the sender's ticks (see ticker()) send it all.
      expect(status).toBe(408);
      expect(JSON.parse(answer)).toMatchObject({ code: 408 });
      expect(sender.sent()).toBeLessThan(body.length);

      // Only the slow stream was cut: the same session serves the next request.
      const ping = session.request({ [constants.HTTP2_HEADER_PATH]: '/ping' });
      const pingStatus = await new Promise((resolve, reject) => {
        ping.once('response', (headers) => resolve(headers[constants.HTTP2_HEADER_STATUS]));
        ping.once('error', reject);
      });
      ping.resume();
      expect(pingStatus).toBe(200);
    } finally {
      session.destroy();
    }
  });

  it('HTTP/2: closes a session without streams after --cleanup-timeout, pings or not', async () => {
    const server = await startTls();
    const since = clock();
    const session = await openHttp2(server.tlsUrl ?? '');
    const ticks = ticker();
    const pinger = setInterval(
      () => session.destroyed || session.closed || session.ping(() => undefined),
      50,
    );
    try {
      const goaway = new Promise<number>((resolve) => session.once('goaway', resolve));
      await new Promise((resolve) => session.once('close', resolve));
      // Closed gracefully by the idle timer: --read-timeout's preface timer destroys a session
      // (and was cleared by the preface), --write-timeout is an hour off; and the idle timer is
      // --cleanup-timeout's, not Fastify's default of 72 s (see ticker()).
      expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
      expect(ticks.stop()).toBeLessThan(MAX_TICKS);
      expect(clock() - since).toBeGreaterThanOrEqual(notBefore(IDLE_MS));
    } finally {
      ticks.stop();
      clearInterval(pinger);
      session.destroy();
    }
  });

  it('HTTP/2: a header block trickled byte by byte is cut at --cleanup-timeout (no stream opens)', async () => {
    // Until its header block is complete a stream does not exist: the session counts as idle.
    const server = await startTls({ readTimeout: UNREACHED });
    const connection = watch(await openTls(server.tlsUrl ?? '', 'h2'));
    connection.socket.write(
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), http2Frame(0x4, 0, 0, [])]),
    );
    // HEADERS on stream 1, END_STREAM | END_HEADERS: GET https /ping with a padding header.
    const block = [0x82, 0x87, 0x04, 5, ...Buffer.from('/ping'), 0x00, 5, ...Buffer.from('x-pad')];
    const headers = http2Frame(0x1, 0x5, 1, [...block, 100, ...Buffer.alloc(100, 0x61)]);
    const sender = trickle(connection.socket, headers, 50);
    await connection.closed;
    // With --read-timeout and --write-timeout an hour off, the session's idle timer closed it, and
    // before the block was all sent: at --cleanup-timeout, not Fastify's default of 72 s (the
    // sender's ticks, see ticker(), would have sent it all within 7 s of ticks).
    expect(sender.sent()).toBeLessThan(headers.length);
  });

  it('HTTP/2: a client that grants no flow-control window is cut at --write-timeout', async () => {
    const server = await startTls({
      writeTimeout: '400ms',
      readTimeout: UNREACHED,
      cleanupTimeout: UNREACHED,
    });
    const session = connectHttp2(server.tlsUrl ?? '', { ca, settings: { initialWindowSize: 0 } });
    session.on('error', () => undefined);
    try {
      const stream = session.request({
        [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp/certchain',
      });
      stream.on('error', () => undefined);
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      await new Promise((resolve) => stream.once('close', resolve));
      // The answer never got through the closed window, and the server gave up on the stream:
      // CANCEL is the write timer's reset (the read timer's is NO_ERROR after a 408), and the
      // other timers are an hour off; without a write timer the stream would wait for ever.
      expect(body).toBe('');
      expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  it('--max-connections applies to the HTTPS listener', async () => {
    const server = await startTls({
      maxConnections: 1,
      readTimeout: UNREACHED,
      cleanupTimeout: UNREACHED,
    });
    const first = await openHttp2(server.tlsUrl ?? '');
    try {
      const refused = await watch(await open(server.tlsUrl ?? '')).closed;
      expect(refused.received).toBe('');
    } finally {
      first.destroy();
    }
    await new Promise((resolve) => first.once('close', resolve));
    await expect
      .poll(async () => {
        const session = await openHttp2(server.tlsUrl ?? '').catch(() => undefined);
        session?.destroy();
        return session !== undefined;
      }, UNTIL_SETTLED)
      .toBe(true);
  });

  it('HTTP/2: the read timeout resets a slow stream on the server side, whatever the client does', async () => {
    const server = createSecureServer({ cert: readFileSync(cert), key: readFileSync(key) });
    const serverStreams: ServerHttp2Stream[] = [];
    server.on('stream', (stream) => serverStreams.push(stream));
    // The 408 goes through the compatibility response, as Fastify's requests do.
    server.on('request', () => undefined);
    enforceStreamTimeouts(server, { readTimeoutMs: READ_MS, writeTimeoutMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const session = await openHttp2(`https://127.0.0.1:${port}`);
    try {
      const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST' });
      stream.on('error', () => undefined);
      const sender = trickle(stream, Buffer.alloc(100), 50);
      await expect.poll(() => serverStreams[0]?.closed, UNTIL_SETTLED).toBe(true);
      expect(serverStreams[0]?.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
      sender.stop();
    } finally {
      session.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('HTTP/2: the read timeout leaves alone a stream whose request arrived, however long it is handled', async () => {
    const slowHandler = createSecureServer({ cert: readFileSync(cert), key: readFileSync(key) });
    slowHandler.on('stream', (stream) => {
      stream.resume();
      stream.once('end', () =>
        setTimeout(() => {
          stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200 });
          stream.end('late');
        }, READ_MS * 3),
      );
    });
    enforceStreamTimeouts(slowHandler, { readTimeoutMs: READ_MS, writeTimeoutMs: 0 });
    await new Promise<void>((resolve) => slowHandler.listen(0, '127.0.0.1', resolve));
    const { port } = slowHandler.address() as AddressInfo;
    const session = await openHttp2(`https://127.0.0.1:${port}`);
    try {
      const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST' });
      stream.end('complete request');
      const status = await new Promise((resolve) =>
        stream.once('response', (headers) => resolve(headers[constants.HTTP2_HEADER_STATUS])),
      );
      expect(status).toBe(200);
    } finally {
      session.destroy();
      await new Promise((resolve) => slowHandler.close(resolve));
    }
  });
});
