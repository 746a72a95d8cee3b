import type { FastifyInstance } from 'fastify';

export const PING_ONLY_MESSAGE = 'http server supports only the /ping entrypoint';

/** Go's --http-ping-only: this (plain-HTTP) listener answers /ping and nothing else. */
export function registerPingOnly(app: FastifyInstance, pingPath: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === pingPath) return;
    return reply.code(404).type('text/plain').send(PING_ONLY_MESSAGE);
  });
}
