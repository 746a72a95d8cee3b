import type { Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { Counter } from 'prom-client';
import { registry } from '../metrics/registry.js';
import { ReportThrottle } from './report-throttle.js';

/** While connections keep being dropped, a line at most this often. */
export const DROP_REPORT_MS = 60_000;

const droppedTotal = new Counter({
  name: 'timestamp_authority_http_connections_dropped_total',
  help: 'Connections closed at once because --max-connections were open',
  registers: [registry],
  aggregator: 'sum',
});

/**
 * Logs and counts the connections a listener at --max-connections closes as they arrive (Node's
 * 'drop': their clients see a reset, nothing else would say so): a WARN at the first, then at most
 * every DROP_REPORT_MS while they go on, with how many were dropped since.
 */
export function reportDroppedConnections(
  server: Server,
  logger: Pick<FastifyBaseLogger, 'warn'>,
  now: () => number = () => performance.now(),
): void {
  const reports = new ReportThrottle<'drop'>(DROP_REPORT_MS, now);
  server.on('drop', () => {
    droppedTotal.inc();
    const report = reports.due('drop');
    if (!report) return;
    logger.warn(
      { droppedSinceLastReport: report.sinceLastReport, maxConnections: server.maxConnections },
      `--max-connections ${server.maxConnections} reached: new connections are closed at once`,
    );
  });
}
