import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from '../config/schema.js';

/** Path limited: issuance costs a signature; /ping and the chain are cheap and probed by load balancers. */
const LIMITED_ROUTE = '/api/v1/timestamp';

/**
 * Fastify's `trustProxy`: only the configured proxies may name the client in X-Forwarded-For;
 * otherwise the TCP peer is the client, so a client cannot dodge its limit by forging the header.
 */
export function trustProxySetting(config: ServeConfig): string[] | false {
  return config.trustedProxies.length > 0 ? [...config.trustedProxies] : false;
}

/**
 * Per-client limits on POST /api/v1/timestamp with @fastify/rate-limit, keyed by `request.ip`
 * (IPv6 clients grouped by /64). Off unless --rate-limit-max is set. Over the limit: 429 with
 * Retry-After and the Go server's JSON error body. The window is at least 1 s (config/rules.ts).
 */
export async function registerRateLimit(app: FastifyInstance, config: ServeConfig): Promise<void> {
  if (config.rateLimitMax === 0) return;
  const { default: rateLimit } = await import('@fastify/rate-limit');
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindow * 1000,
    allowList: (request) =>
      !(request.method === 'POST' && request.routeOptions.url === LIMITED_ROUTE),
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
        new Error(
          `rate limit exceeded: at most ${context.max} timestamp requests per ${config.rateLimitWindow} s, retry in ${context.after}`,
        ),
        { statusCode: 429 },
      ),
  });
}
