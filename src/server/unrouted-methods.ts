import { METHODS, type IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { FastifyInstance } from 'fastify';

/**
 * The methods Fastify's router keeps a tree for (find-my-way's list: Node's http.METHODS). Over
 * HTTP/1.1 no other method gets through Node's parser; over HTTP/2 any token does (`FOO`, `get`).
 */
const ROUTED_METHODS: ReadonlySet<string> = new Set(METHODS);

/**
 * Routed in place of a method the router has no tree for: a method no route of ours takes, so that
 * the request reaches the not-found handler (405 with Allow on a known path, 404 elsewhere).
 */
const STAND_IN = 'TRACE';

type RawRequest = IncomingMessage | Http2ServerRequest;

const standingIn = new WeakMap<RawRequest, string>();

/** Http2ServerRequest's method has a setter (it writes the :method header); its type says read-only. */
const setMethod = (request: RawRequest, method: string) => {
  (request as { method: string }).method = method;
};

/**
 * A request whose method the router does not know would find no route at all, not even the 404
 * one: Fastify would answer it with its own 404 body, two WARN lines ("this is likely a fastify
 * bug" and the whole route tree), and no hook, so no request line and no count. Such a request is
 * routed as STAND_IN and gets its own method back before the first hook: it is then answered,
 * logged and counted as a method its route does not take. Register before any other hook.
 */
export function routeUnknownMethods(app: FastifyInstance): void {
  // Before Fastify's own listener, which routes the request.
  app.server.prependListener('request', (request: RawRequest) => {
    const { method } = request;
    if (method === undefined || ROUTED_METHODS.has(method)) return;
    standingIn.set(request, method);
    setMethod(request, STAND_IN);
  });
  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (request, _reply, done) => {
    const method = standingIn.get(request.raw);
    if (method !== undefined) setMethod(request.raw, method);
    done();
  });
}
