import { Registry } from 'prom-client';

/**
 * The process's Prometheus registry. Every module registers its metrics here; the operations
 * listener (`/metrics`) exposes it.
 */
export const registry = new Registry();
