import type { FastifyInstance } from 'fastify';
import type { TimestampAuthority } from '../tsp/authority.js';
import type { ServingState } from './serving-state.js';

/**
 * Health routes:
 * - /ping (Go's; body `.`): 503 while any issuance guard refuses (clock, certificate...);
 * - /livez: the process serves HTTP; always 200 (a Kubernetes liveness probe must not restart a
 *   pod only because its clock drifted: it recovers by itself);
 * - /readyz: 200 only while tokens can be issued and the server is not draining, so a load
 *   balancer sends requests only where they can be granted.
 */
export const HEALTH_ROUTES = { ping: '/ping', livez: '/livez', readyz: '/readyz' } as const;
export const HEALTH_PATHS: readonly string[] = Object.values(HEALTH_ROUTES);

/** `state.draining` (set on SIGTERM, shared by every listener) turns /readyz red at once. */
export function registerHealthRoutes(
  app: FastifyInstance,
  authority: TimestampAuthority,
  state: ServingState,
): void {
  const notReady = () => {
    const reason = authority.unavailableReason();
    return reason ? (reason.detail ?? reason.message) : undefined;
  };

  app.get(HEALTH_ROUTES.ping, async (_request, reply) => {
    const reason = notReady();
    if (reason) return reply.code(503).type('text/plain').send(reason);
    return reply.type('text/plain').send('.');
  });
  app.get(HEALTH_ROUTES.livez, async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get(HEALTH_ROUTES.readyz, async (_request, reply) => {
    const reason = state.draining ? 'draining: the server is shutting down' : notReady();
    if (reason) return reply.code(503).type('text/plain').send(reason);
    return reply.type('text/plain').send('ok');
  });
}
