import type { FastifyInstance } from 'fastify';

/** What the process is doing; shared by every listener of the process. */
export interface ServingState {
  /** Set at SIGTERM/SIGINT: the load balancer must stop sending traffic. */
  draining: boolean;
}

export const createServingState = (): ServingState => ({ draining: false });

/** /livez: the process answers. /readyz: it wants traffic (503 once draining). */
export function registerReadiness(app: FastifyInstance, state: ServingState): void {
  app.get('/livez', async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_request, reply) =>
    state.draining
      ? reply.code(503).type('text/plain').send('draining')
      : reply.type('text/plain').send('ok'),
  );
}
