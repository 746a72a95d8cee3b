import type { FastifyInstance } from 'fastify';

/** rs/cors `Default()`, which the Go server installs: any origin, simple methods, no credentials. */
const ALLOWED_METHODS = new Set(['GET', 'POST', 'HEAD']);
const ALLOWED_HEADERS = new Set(['accept', 'content-type', 'x-requested-with', 'origin']);

function headersAllowed(requested: string | undefined): boolean {
  if (!requested) return true;
  return requested
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .every((name) => name === '' || ALLOWED_HEADERS.has(name));
}

/**
 * CORS as the Go server answers it: `Access-Control-Allow-Origin: *` on requests that carry an
 * Origin, and preflights (OPTIONS with Access-Control-Request-Method) answered 204 here, never routed.
 */
export function registerCors(app: FastifyInstance): void {
  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    const preflightMethod = request.headers['access-control-request-method'];
    if (request.method === 'OPTIONS' && typeof preflightMethod === 'string') {
      reply.header('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      const requestedHeaders = request.headers['access-control-request-headers'];
      const method = preflightMethod.toUpperCase();
      if (origin && ALLOWED_METHODS.has(method) && headersAllowed(requestedHeaders)) {
        reply
          .header('access-control-allow-origin', '*')
          .header('access-control-allow-methods', method);
        if (requestedHeaders) reply.header('access-control-allow-headers', requestedHeaders);
      }
      // Answered here: the route is never reached (done() is not called).
      reply.code(204).send();
      return;
    }
    reply.header('vary', 'Origin');
    if (origin && (ALLOWED_METHODS.has(request.method) || request.method === 'OPTIONS')) {
      reply.header('access-control-allow-origin', '*');
    }
    done();
  });
}
