import type { FastifyInstance, FastifyRequest } from 'fastify';
import { watchClientAborts } from './client-aborts.js';

/** Logs or counts one request with the status it ended with and its duration in milliseconds. */
export type RequestObserver = (request: FastifyRequest, status: number, elapsedMs: number) => void;

const observers = new WeakMap<FastifyInstance, RequestObserver[]>();

/**
 * Calls `observer` for each request of `app` whose end its onResponse hooks do not see: one whose
 * connection or stream closed before its answer (client-aborts.ts: 499, or what the server sent
 * before it cut), and one Fastify answered outside any route (framework-errors.ts).
 */
export function observeUnhooked(app: FastifyInstance, observer: RequestObserver): void {
  const existing = observers.get(app);
  if (existing) {
    existing.push(observer);
    return;
  }
  observers.set(app, [observer]);
  watchClientAborts(app, (request, reply, status) =>
    reportUnhooked(app, request, status, reply.elapsedTime),
  );
}

/** Hands a request that ended outside the hooks to `app`'s observers. */
export function reportUnhooked(
  app: FastifyInstance,
  request: FastifyRequest,
  status: number,
  elapsedMs: number,
): void {
  for (const observer of observers.get(app) ?? []) observer(request, status, elapsedMs);
}
