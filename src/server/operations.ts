import type { FastifyInstance } from 'fastify';
import { registerCors } from './cors.js';
import { registerRequestMetrics } from './http-metrics.js';
import { registerOpenApi } from './openapi.js';
import { registerPingOnly } from './ping-only.js';
import type { Transport } from './transport.js';

export interface OperationsOptions {
  transport?: Transport | undefined;
  pingPath: string;
}

/** Middleware and routes every listener carries, in the Go server's order: metrics, CORS, ping-only. */
export function registerOperations(app: FastifyInstance, options: OperationsOptions): void {
  registerRequestMetrics(app);
  registerCors(app);
  if (options.transport?.kind === 'http' && options.transport.pingOnly)
    registerPingOnly(app, options.pingPath);
  registerOpenApi(app);
}
