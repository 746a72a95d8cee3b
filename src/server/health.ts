import type { FastifyInstance } from 'fastify';
import type { TimestampAuthority } from '../tsp/authority.js';
import { readinessReason } from '../tsp/guards.js';
import type { ServingState } from './serving-state.js';

/**
 * Health routes:
 * - /ping (Go's; body `.`): 503 while any issuance guard refuses (clock, certificate...);
 * - /livez: the process serves HTTP; always 200 (a Kubernetes liveness probe must not restart a
 *   pod only because its clock drifted: it recovers by itself);
 * - /readyz: 200 only while tokens can be issued and the server is not draining, so a load
 *   balancer sends requests only where they can be granted.
 *
 * With named profiles, each has its own guards (signer, chain, clock): /ping and /readyz are 200
 * while at least one profile can issue, so a profile whose signer is down does not take the
 * others out of the load balancer; /readyz's body names each profile's state, one per line
 * (`default: ok`, `rsa: <reason>`), and its 503 lists them all.
 */
export const HEALTH_ROUTES = { ping: '/ping', livez: '/livez', readyz: '/readyz' } as const;
export const HEALTH_PATHS: readonly string[] = Object.values(HEALTH_ROUTES);

/** A named profile, for readiness. */
export interface ProfileHealth {
  name: string;
  authority: TimestampAuthority;
}

const reasonOf = (authority: TimestampAuthority): string | undefined => {
  const reason = authority.unavailableReason();
  // The signer's whole reason, where its clients are told less (a PIN refused: the PIN file).
  return reason ? readinessReason(reason) : undefined;
};

/** `state.draining` (set on SIGTERM, shared by every listener) turns /readyz red at once. */
export function registerHealthRoutes(
  app: FastifyInstance,
  authority: TimestampAuthority,
  state: ServingState,
  profiles: readonly ProfileHealth[] = [],
): void {
  /** Why no token can be issued now (undefined: at least one profile can), and each profile's line. */
  const readiness = (): { reason: string | undefined; lines?: string } => {
    if (profiles.length === 0) return { reason: reasonOf(authority) };
    const states = [{ name: 'default', authority }, ...profiles].map((profile) => ({
      name: profile.name,
      reason: reasonOf(profile.authority),
    }));
    const lines = states.map(({ name, reason }) => `${name}: ${reason ?? 'ok'}`).join('\n');
    const anyReady = states.some(({ reason }) => reason === undefined);
    return { reason: anyReady ? undefined : 'no profile can issue tokens', lines };
  };

  app.get(HEALTH_ROUTES.ping, async (_request, reply) => {
    const { reason } = readiness();
    if (reason) return reply.code(503).type('text/plain').send(reason);
    return reply.type('text/plain').send('.');
  });
  app.get(HEALTH_ROUTES.livez, async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get(HEALTH_ROUTES.readyz, async (_request, reply) => {
    if (state.draining)
      return reply.code(503).type('text/plain').send('draining: the server is shutting down');
    const { reason, lines } = readiness();
    if (reason)
      return reply
        .code(503)
        .type('text/plain')
        .send(lines ? `${reason}\n${lines}` : reason);
    return reply.type('text/plain').send(lines ? `ok\n${lines}` : 'ok');
  });
}
