import type { FastifyInstance } from 'fastify';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { ServeConfig } from '../config/schema.js';
import { ServerError } from './server-error.js';

/** Path limited: issuance costs a signature; /ping and the chain are cheap and probed by load balancers. */
const LIMITED_ROUTE = '/api/v1/timestamp';

/**
 * Fastify's `trustProxy`: only the configured proxies may name the client in X-Forwarded-For;
 * otherwise the TCP peer is the client, so a client cannot dodge its limit by forging the header.
 */
export function trustProxySetting(config: ServeConfig): string[] | false {
  return config.trustedProxies.length > 0 ? [...config.trustedProxies] : false;
}

/** Clients remembered at once, the least recently seen forgotten first (@fastify/rate-limit's default). */
const REMEMBERED_CLIENTS = 5000;

/**
 * The process's fixed-window counters, one per client key, shared by every listener (HTTP and
 * HTTPS): a client's quota is per process, not per listener.
 */
export class RateLimitStore implements FastifyRateLimitStore {
  private readonly windows = new Map<string, { count: number; startMs: number }>();

  // Monotonic: a wall clock stepped back (TSAs' clocks are disciplined) would keep clients limited
  // for the window plus the step.
  constructor(private readonly now: () => number = () => performance.now()) {}

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
  ): void {
    const nowMs = this.now();
    let window = this.windows.get(key);
    if (!window || window.startMs + timeWindow <= nowMs) window = { count: 0, startMs: nowMs };
    window.count++;
    // Re-inserted, so the Map's order is least recently seen first.
    this.windows.delete(key);
    this.windows.set(key, window);
    if (this.windows.size > REMEMBERED_CLIENTS) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    callback(null, { current: window.count, ttl: window.startMs + timeWindow - nowMs });
  }

  child(): FastifyRateLimitStore {
    return this;
  }
}

/** @fastify/rate-limit builds its store with `new store(options)`: this constructor returns `store`. */
function constructorOf(store: RateLimitStore): FastifyRateLimitStoreCtor {
  return function SharedStore() {
    return store;
  } as unknown as FastifyRateLimitStoreCtor;
}

/**
 * Per-client limits on POST /api/v1/timestamp with @fastify/rate-limit, keyed by `request.ip`
 * (IPv6 clients grouped by /64). Off unless --rate-limit-max is set. Over the limit: 429 with
 * Retry-After and the Go server's JSON error body. The window is at least 1 s (config/rules.ts).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  config: ServeConfig,
  store: RateLimitStore = new RateLimitStore(),
  /** The timestamp routes: the default one and each profile's, one quota per client for all. */
  limitedRoutes: readonly string[] = [LIMITED_ROUTE],
): Promise<void> {
  if (config.rateLimitMax === 0) return;
  const limited = new Set(limitedRoutes);
  const { default: rateLimit } = await import('@fastify/rate-limit');
  await app.register(rateLimit, {
    global: true,
    store: constructorOf(store),
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindow * 1000,
    allowList: (request) =>
      !(request.method === 'POST' && limited.has(request.routeOptions.url ?? '')),
    addHeadersOnExceeding: {
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': true,
      'x-ratelimit-reset': true,
    },
    addHeaders: {
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': true,
      'x-ratelimit-reset': true,
      'retry-after': true,
    },
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new ServerError(
          'RATE_LIMITED',
          `rate limit exceeded: at most ${context.max} timestamp requests per ${config.rateLimitWindow} s, retry in ${context.after}`,
        ),
        { statusCode: 429 },
      ),
  });
}
