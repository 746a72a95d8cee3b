import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { closeInactiveConnections } from './inactive-connections.js';

interface HttpServerLimits {
  requestTimeout?: number;
  headersTimeout?: number;
  keepAliveTimeout?: number;
  maxHeaderSize?: number;
  connectionsCheckingInterval?: number;
  setTimeout?(ms: number): unknown;
  closeAllConnections?(): void;
}

/**
 * Go's http.Server limits mapped onto Node's: ReadTimeout -> requestTimeout (whole request),
 * WriteTimeout -> socket inactivity while answering, IdleTimeout (--cleanup-timeout) -> keep-alive.
 * Set on the server object so HTTP/1.1 connections of the HTTP/2 listener get them too.
 * Node checks the request deadlines every connectionsCheckingInterval (30 s by default), read
 * when the server starts listening: check each second so a slow request is cut near the timeout.
 * The inactivity timer leaves a request still arriving to those deadlines (their 408).
 */
export function applyConnectionLimits(server: Server, config: ServeConfig): void {
  const limits = server as Server & HttpServerLimits;
  limits.requestTimeout = config.readTimeout;
  limits.headersTimeout = Math.min(config.readTimeout, 60_000) || 60_000;
  limits.keepAliveTimeout = config.cleanupTimeout;
  limits.maxHeaderSize = config.maxHeaderSize;
  limits.connectionsCheckingInterval = 1_000;
  limits.setTimeout?.(config.writeTimeout);
  closeInactiveConnections(server, config.readTimeout);
  if (config.maxConnections > 0) server.maxConnections = config.maxConnections;
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

interface Http2Session {
  close(): void;
  destroy(): void;
}

/**
 * Node 20's HTTP/2 server waits for open sessions on close, and an idle one lives until the session
 * timeout (620 s). Tracks them so shutdown can send GOAWAY (streams in flight still finish).
 */
export function trackSessions(server: Server): { goAway(): void; destroy(): void } {
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on(
    'session',
    (session: Http2Session & { once(event: 'close', listener: () => void): void }) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    },
  );
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    goAway: () => sessions.forEach((session) => session.close()),
    destroy: () => {
      sessions.forEach((session) => session.destroy());
      sockets.forEach((socket) => socket.destroy());
    },
  };
}

/**
 * Stops accepting on every listener and lets in-flight requests finish; after `timeoutMs` the
 * remaining connections are cut. Resolves true when everything finished in time.
 */
export async function closeGracefully(
  apps: readonly Closable[],
  timeoutMs: number,
  logger: FastifyBaseLogger,
  sessions: readonly ReturnType<typeof trackSessions>[] = [],
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  const closed = Promise.all(apps.map((app) => app.close())).then(() => true as const);
  sessions.forEach((tracker) => tracker.goAway());
  const inTime = await Promise.race([closed, expired]);
  clearTimeout(timer);
  if (!inTime) {
    logger.warn(
      `in-flight requests did not finish within ${timeoutMs} ms, closing their connections`,
    );
    for (const app of apps) (app.server as Server & HttpServerLimits).closeAllConnections?.();
    sessions.forEach((tracker) => tracker.destroy());
    await closed;
  }
  return inTime;
}
