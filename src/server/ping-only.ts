import type { FastifyInstance } from 'fastify';
import { HEALTH_ROUTES } from './health.js';

export const PING_ONLY_MESSAGE = 'http server supports only the /ping entrypoint';

/**
 * Go's --http-ping-only: this (plain-HTTP) listener answers /ping and nothing else, except our
 * /livez and /readyz (Go has neither). They are health answers like /ping, carrying no token
 * data, and the container HEALTHCHECK and Kubernetes probes use them on this port: refusing them
 * would fail every probe of a ping-only server (docs/compatibility.md).
 */
export function registerPingOnly(app: FastifyInstance, pingPath: string): void {
  const allowed = new Set([pingPath, HEALTH_ROUTES.livez, HEALTH_ROUTES.readyz]);
  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    if (url !== undefined && allowed.has(url)) return;
    return reply.code(404).type('text/plain').send(PING_ONLY_MESSAGE);
  });
}
