import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeConfig } from '../config/schema.js';
import type { ListenerFlags } from './listen-error.js';
import { registry } from '../metrics/registry.js';
import { closeInactiveConnections } from './inactive-connections.js';
import { SingleFlight } from './single-flight.js';

export const METRICS_PATH = '/metrics';

/** What /metrics answers: the process's registry, or a cluster primary's aggregate. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsListener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** The flags that place the metrics listener, for start-up errors. */
export const metricsListenerFlags = (config: ServeConfig): ListenerFlags => ({
  host: config.metricsHost ? '--metrics-host' : '--host',
  port: '--metrics-port',
});

/**
 * Scrapes waiting for a collection at once; the next are refused 503 with Retry-After. Prometheus
 * scrapes one target once per interval (a pair of servers for HA: twice); a flood of scrapes
 * would otherwise hold a response each until the collection ends.
 */
export const MAX_WAITING_SCRAPES = 16;

/**
 * The Prometheus endpoint on its own listener, so it never shares a port with the public API.
 * Scrapes that come while a collection runs share it (a cluster's asks every worker over IPC),
 * none is kept once sent: each scrape after it starts a new one.
 */
export async function startMetricsListener(options: {
  host: string;
  port: number;
  timeoutMs: number;
  source?: MetricsSource;
  /** MAX_WAITING_SCRAPES by default. */
  maxWaiting?: number;
}): Promise<MetricsListener> {
  const source = options.source ?? registry;
  const maxWaiting = options.maxWaiting ?? MAX_WAITING_SCRAPES;
  const collections = new SingleFlight<string>();
  let waiting = 0;
  // --read-timeout is checked every connectionsCheckingInterval (30 s by default): each second.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' })
        .end(`method ${request.method} is not allowed: metrics are read with GET\n`);
      return;
    }
    if (waiting >= maxWaiting) {
      response
        .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' })
        .end('too many scrapes at once: retry in a second\n');
      return;
    }
    waiting++;
    // No inactivity deadline while the collection runs: a cluster's waits up to 5 s for a silent
    // worker, then serves its last answer; a --read-timeout under that cut every such scrape.
    // Back once the answer is written, for a client that does not read it.
    const { socket } = request;
    socket.setTimeout(0);
    const answer = (status: number, type: string, text: string) => {
      socket.setTimeout(options.timeoutMs);
      response.writeHead(status, { 'content-type': type }).end(text);
    };
    collections
      .run('metrics', () => source.metrics())
      .then(
        (text) => answer(200, source.contentType, text),
        (error: unknown) => answer(500, 'text/plain', `cannot collect metrics: ${String(error)}\n`),
      )
      .finally(() => waiting--);
  });
  server.requestTimeout = options.timeoutMs;
  server.setTimeout(options.timeoutMs);
  closeInactiveConnections(server, options.timeoutMs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    url: `http://${host}:${port}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
