import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Server, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { reportDroppedConnections } from './dropped-connections.js';
import { closeInactiveConnections } from './inactive-connections.js';
import { idleTimeout } from './transport.js';

interface HttpServerLimits {
  requestTimeout?: number;
  headersTimeout?: number;
  keepAliveTimeout?: number;
  maxHeaderSize?: number;
  connectionsCheckingInterval?: number;
  setTimeout?(ms: number): unknown;
}

/**
 * Go's http.Server limits mapped onto Node's: ReadTimeout -> requestTimeout (whole request),
 * WriteTimeout -> socket inactivity while answering, IdleTimeout (--cleanup-timeout) -> keep-alive.
 * Set on the server object so HTTP/1.1 connections of the HTTP/2 listener get them too.
 * Node checks the request deadlines every connectionsCheckingInterval (30 s by default), read
 * when the server starts listening: check each second so a slow request is cut near the timeout.
 * The inactivity timer leaves a request still arriving to those deadlines (their 408).
 */
export function applyConnectionLimits(
  server: Server,
  config: ServeConfig,
  logger: Pick<FastifyBaseLogger, 'warn'>,
): void {
  const limits = server as Server & HttpServerLimits;
  limits.requestTimeout = config.readTimeout;
  limits.headersTimeout = Math.min(config.readTimeout, 60_000) || 60_000;
  limits.keepAliveTimeout = idleTimeout(config);
  limits.maxHeaderSize = config.maxHeaderSize;
  limits.connectionsCheckingInterval = 1_000;
  limits.setTimeout?.(config.writeTimeout);
  closeInactiveConnections(server, config.readTimeout);
  if (config.maxConnections > 0) {
    server.maxConnections = config.maxConnections;
    reportDroppedConnections(server, logger);
  }
}

/** Node's own listen backlog, used where the kernel's cannot be read. */
const NODE_BACKLOG = 511;

/**
 * The listen backlog, as Go's net package sets it: the kernel's somaxconn (4096 by default since
 * Linux 5.4). Node's default is 511: a burst of new connections past it (a fleet of clients
 * reconnecting at once) has SYNs dropped, and those clients retry only after 1 s, then 3 s.
 */
export function listenBacklog(
  readSomaxconn: () => string = () => readFileSync('/proc/sys/net/core/somaxconn', 'utf8'),
): number {
  try {
    const value = Number(readSomaxconn().trim());
    if (Number.isSafeInteger(value) && value > 0) return Math.min(value, 2 ** 31 - 1);
  } catch {
    // not Linux, or no /proc
  }
  return NODE_BACKLOG;
}

interface Closable {
  close(): Promise<unknown>;
  server: Server;
}

/**
 * How long a drain leaves a connection that has not begun a request yet (accepted just before the
 * signal, its request still on the way): Go's Server.Shutdown counts a new connection as active
 * for its first 5 s.
 */
export const FIRST_REQUEST_GRACE_MS = 5_000;

interface Http2Session {
  close(): void;
  destroy(): void;
}

/**
 * What Node's HTTP/1.1 server keeps on a connection's socket (internal): its parser, and the
 * response it is writing (set from the request's arrival until the response has finished).
 */
interface HttpConnection extends Socket {
  parser?: { duration?(): number } | null;
  _httpMessage?: ServerResponse | null;
}

/** One listener's connections, for its drain (closeGracefully). */
export interface ListenerConnections {
  /**
   * Begins the drain: every HTTP/1.x response not yet sent says `Connection: close` and its
   * connection closes once it is sent; a kept-alive connection with no request closes now; HTTP/2
   * sessions get GOAWAY (their streams in flight still finish).
   */
  drain(): void;
  /** Closes every connection on which no request has begun (FIRST_REQUEST_GRACE_MS in). */
  closeIdle(): void;
  /** Cuts every connection, sessions included (at --graceful-timeout). */
  destroy(): void;
}

/**
 * Tracks a listener's connections so that a drain ends as soon as its requests are answered, as
 * Go's Server.Shutdown does: HTTP/1.x connections each carry at most one more answer, and close as
 * they go idle (Node's own close() only closes those idle at that moment, and a kept-alive one
 * would live until --cleanup-timeout); HTTP/2 sessions end by GOAWAY (Node 20's HTTP/2 server
 * waits for open sessions on close, and an idle one lives until the session timeout).
 * Nothing is done per request until the drain begins: the hot path pays only per connection.
 * Call before the server listens.
 */
export function trackConnections(server: Server): ListenerConnections {
  /** Every TCP connection, a TLS one still in its handshake included. */
  const sockets = new Set<Socket>();
  /**
   * The HTTP/1.x ones (over TLS: the TLS socket, which Node's parser reads), with the bytes read
   * when accepted (a TLS connection's handshake is done by then): more read since, a request has
   * begun on it.
   */
  const connections = new Map<HttpConnection, number>();
  const sessions = new Set<Http2Session>();
  /** The drain has begun; its first-request grace is over (closeIdle). */
  let draining = false;
  let graceOver = false;

  const watch = (socket: HttpConnection) => {
    connections.set(socket, socket.bytesRead);
    socket.once('close', () => connections.delete(socket));
  };
  const begun = (socket: HttpConnection) => socket.bytesRead !== connections.get(socket);
  /**
   * No response being written and no request begun (Go's StateIdle, or StateNew): Node's parser
   * clock reads 0 between two requests and runs from a request's first byte; before the first
   * request it runs from the connection's start, so there the bytes read tell.
   */
  const idle = (socket: HttpConnection) =>
    !socket._httpMessage && (begun(socket) ? (socket.parser?.duration?.() ?? 0) === 0 : true);
  /** As Node closes an idle connection; one Node is ending already (`Connection: close`) is left to it. */
  const closeIfIdle = (socket: HttpConnection) => {
    if (idle(socket) && !socket.writableEnded && !socket.destroyed) socket.destroy();
  };
  /**
   * During the drain: the response being written on `socket` says `Connection: close` if its
   * headers have not gone out, and once it is done the connection closes if idle (one whose headers
   * went out before the drain said keep-alive), or its next (pipelined) response is treated so.
   */
  const closeWhenAnswered = (socket: HttpConnection) => {
    const response = socket._httpMessage;
    if (!response) return closeIfIdle(socket);
    if (!response.headersSent) response.setHeader('connection', 'close');
    response.once('close', () => closeWhenAnswered(socket));
  };

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (!(server instanceof TlsServer)) watch(socket);
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    watch(socket);
    // Its handshake ended after the first-request grace: no request has begun on it.
    if (graceOver) closeIfIdle(socket);
  });
  server.on(
    'session',
    (session: Http2Session & { once(event: 'close', listener: () => void): void }) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      // Its handshake ended during the drain: GOAWAY at once, as the others got.
      if (draining) session.close();
    },
  );
  /**
   * A request that arrives during the drain is answered as any other (logged, counted: this runs
   * before Fastify's handler), only with `Connection: close`.
   */
  const whileDraining = (request: IncomingMessage) => {
    const socket = request.socket as HttpConnection;
    if (request.httpVersionMajor < 2 && connections.has(socket)) closeWhenAnswered(socket);
  };

  return {
    drain() {
      draining = true;
      server.prependListener('request', whileDraining);
      // One on which no request has begun keeps FIRST_REQUEST_GRACE_MS (closeIdle).
      for (const socket of connections.keys()) if (begun(socket)) closeWhenAnswered(socket);
      sessions.forEach((session) => session.close());
    },
    closeIdle() {
      graceOver = true;
      for (const socket of connections.keys()) closeIfIdle(socket);
    },
    destroy() {
      sessions.forEach((session) => session.destroy());
      sockets.forEach((socket) => socket.destroy());
    },
  };
}

/** A listener to drain: its app and its connections (trackConnections). */
export interface DrainedListener {
  app: Closable;
  connections: ListenerConnections;
}

/**
 * Stops accepting on every listener and closes each connection once it has nothing left to answer
 * (trackConnections); after `timeoutMs` the remaining connections are cut. Resolves true when every
 * connection closed in time.
 */
export async function closeGracefully(
  listeners: readonly DrainedListener[],
  timeoutMs: number,
  logger: FastifyBaseLogger,
  firstRequestGraceMs = FIRST_REQUEST_GRACE_MS,
): Promise<boolean> {
  const timers: NodeJS.Timeout[] = [];
  const after = (ms: number, run: () => void) => timers.push(setTimeout(run, ms).unref());
  const closed = Promise.all(
    listeners.map(({ app, connections }) => {
      const allClosed = stopAccepting(app.server);
      connections.drain();
      return allClosed;
    }),
  ).then(() => true as const);
  after(firstRequestGraceMs, () => listeners.forEach(({ connections }) => connections.closeIdle()));
  const expired = new Promise<false>((resolve) => after(timeoutMs, () => resolve(false)));
  const inTime = await Promise.race([closed, expired]);
  timers.forEach(clearTimeout);
  if (!inTime) {
    logger.warn(
      `in-flight requests did not finish within ${timeoutMs} ms, closing their connections`,
    );
    listeners.forEach(({ connections }) => connections.destroy());
    await closed;
  }
  // Fastify's own close (its onClose hooks) once no connection is left: a closing Fastify answers
  // any request with a bare 503 of its own (return503OnClosing), unlogged and uncounted.
  await Promise.all(listeners.map(({ app }) => app.close()));
  return inTime;
}

/**
 * Stops accepting; resolves once every connection has closed. net's close, not http's: that one
 * also closes the connections Node deems idle, which in the Node versions with nodejs/node#63470
 * (not Node 20's) include those that have not sent their first request yet, which the drain gives
 * FIRST_REQUEST_GRACE_MS instead.
 */
function stopAccepting(server: Server): Promise<void> {
  return new Promise((resolve) => NetServer.prototype.close.call(server, () => resolve()));
}
