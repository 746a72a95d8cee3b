import type { Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import { Counter } from 'prom-client';
import { registry } from '../metrics/registry.js';
import { ReportThrottle } from './report-throttle.js';

/** While handshakes keep failing for one reason, a line at most this often. */
export const HANDSHAKE_REPORT_MS = 60_000;

export type HandshakeFailure = 'client_certificate' | 'timeout' | 'plain_http' | 'reset' | 'other';

const REASONS: readonly HandshakeFailure[] = [
  'client_certificate',
  'timeout',
  'plain_http',
  'reset',
  'other',
];

const failuresTotal = new Counter({
  name: 'timestamp_authority_tls_handshake_failures_total',
  help: 'TLS handshakes of the HTTPS listener that failed, by reason (client_certificate: refused by --tls-ca)',
  labelNames: ['reason'] as const,
  registers: [registry],
  aggregator: 'sum',
});
for (const reason of REASONS) failuresTotal.inc({ reason }, 0);

/** The reason of a failed handshake, from Node's or OpenSSL's error code. */
export function handshakeFailure(code: string | undefined): HandshakeFailure {
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ERR_SSL_HTTP_REQUEST') return 'plain_http';
  if (code === 'ECONNRESET') return 'reset';
  if (code?.includes('CERTIFICATE')) return 'client_certificate';
  return 'other';
}

const SAID: Record<HandshakeFailure, string> = {
  client_certificate: 'a client certificate was missing or not trusted by --tls-ca',
  timeout: 'not finished within --read-timeout',
  plain_http: 'the client sent plain HTTP to the HTTPS port',
  reset: 'the client closed the connection',
  other: 'the client and the server could not agree',
};

/**
 * Counts and logs the HTTPS listener's failed TLS handshakes: no request exists for them, so no
 * request line says that --tls-ca refused a client, or that clients speak plain HTTP to the port.
 * Each reason is logged when first seen, then at most every HANDSHAKE_REPORT_MS with how many
 * since; refused client certificates as warnings, the rest (scanners, health checks) as info.
 */
export function reportTlsHandshakeFailures(
  server: Server,
  logger: Pick<FastifyBaseLogger, 'warn' | 'info'>,
  now: () => number = () => performance.now(),
): void {
  const reports = new ReportThrottle<HandshakeFailure>(HANDSHAKE_REPORT_MS, now);
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const reason = handshakeFailure(error.code);
    failuresTotal.inc({ reason });
    const report = reports.due(reason);
    if (!report) return;
    const level = reason === 'client_certificate' ? 'warn' : 'info';
    logger[level](
      {
        reason,
        code: error.code,
        remoteAddress: socket.remoteAddress,
        ...(report.first ? {} : { failedSinceLastReport: report.sinceLastReport }),
      },
      `TLS handshake failed: ${SAID[reason]}`,
    );
  });
}
