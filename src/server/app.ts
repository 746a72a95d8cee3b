import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type preParsingHookHandler,
} from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import type {
  GrantedOutcome,
  IssueContext,
  IssueOutcome,
  Issuer,
  RequestFormat,
  TimestampAuthority,
} from '../tsp/authority.js';
import { ProfileRouter } from '../tsp/profile-router.js';
import type { TrustedRootJson } from '../x509/trusted-root.js';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../x509/trusted-root.js';
import { HEALTH_PATHS, registerHealthRoutes } from './health.js';
import { answerExpectations, hasUnmetExpectation, sendContinue } from './expect-header.js';
import { accepts, mediaType } from './media-type.js';
import { contentTypeParseRefusal } from './go-media-type.js';
import { OPENAPI_PATH } from './openapi.js';
import { registerOperations } from './operations.js';
import { createServingState, type ServingState } from './serving-state.js';
import { transportOptions, type Transport } from './transport.js';
import type { OpenAuditFile } from './audit-log-file.js';
import {
  installAuditLog,
  openProcessAuditLog,
  type AuditLogOptions,
  type ProcessAuditLog,
} from './audit-log.js';
import { httpAnswers, sendAnswer, sendGoError } from './http-outcome.js';
import { countUnparsedRequest, knowPaths } from './http-metrics.js';
import type { ProcessLedger } from '../ledger/process-ledger.js';
import { LOG_PREFIX, LOG_ROUTES, refuseLogRequest, registerLogRoutes } from './log-routes.js';
import {
  addVary,
  ambiguousAuthority,
  hostRefusal,
  originFormTarget,
  requestOrigin,
  targetPath,
} from './request-origin.js';
import {
  UNSUPPORTED_TRANSFER_CODING_MESSAGE,
  unsupportedTransferCoding,
} from './transfer-coding.js';
import { requestIdFrom } from './request-id.js';
import { cleanPath, mayNeedCleaning } from './clean-path.js';
import { enforceHttp2HeaderLimit } from './http2-header-limit.js';
import { loggedMethod, logUnparsedRequest, registerRequestLog } from './request-log.js';
import { LazyChildLogger } from './lazy-child-logger.js';
import { RateLimitStore, registerRateLimit, trustProxySetting } from './rate-limit.js';
import {
  answeredWhileArriving,
  clientAborted,
  RequestCutError,
  requestCut,
} from './client-aborts.js';
import {
  clientErrorHandler,
  fragmentInPath,
  leavesLargeBodyUnread,
  unsupportedHttpVersion,
} from './client-errors.js';
import { routeConnectRequests } from './connect-requests.js';
import { frameworkErrorHandler } from './framework-errors.js';
import { routeUnknownMethods } from './unrouted-methods.js';
import { TurnBatch } from './turn-batch.js';

export const ROUTES = {
  timestamp: '/api/v1/timestamp',
  certchain: '/api/v1/timestamp/certchain',
  trustedRoot: '/api/v1/timestamp/trusted-root',
  ping: '/ping',
} as const;

/** A named profile's routes: POST /api/v1/timestamp/<name>, GET …/<name>/certchain. */
export const profileRoutes = (name: string) => ({
  timestamp: `${ROUTES.timestamp}/${name}`,
  certchain: `${ROUTES.timestamp}/${name}/certchain`,
});

/** A named profile as served: its authority, chain and the policies that route to it. */
export interface ServedProfile {
  name: string;
  authority: TimestampAuthority;
  chainPem: string;
  /** Hex of the DER TLVs of its policy OIDs. */
  policies: ReadonlySet<string>;
  /** Dotted; its tokens' policy when the request names none. */
  defaultPolicyOid: string;
}

/** One POST's call to issue(), as a turn's batch holds it. */
interface IssueCall {
  issuer: Issuer;
  body: Buffer;
  format: RequestFormat;
  context: IssueContext;
}

/** The trusted root of every profile's chains, with entry URIs under `origin` (scheme://host). */
export type TrustedRootSource = (origin: string | undefined) => TrustedRootJson;

const TIMESTAMP_QUERY = 'application/timestamp-query';
const JSON_MEDIA_TYPE = 'application/json';
/** The media types of the bodies the timestamp routes read. */
const REQUEST_MEDIA_TYPES = new Set([TIMESTAMP_QUERY, JSON_MEDIA_TYPE]);
const PEM_CHAIN = 'application/pem-certificate-chain';
const REQUEST_BODY_REQUIRED = 'request in body is required';
/** The format a request's media type names; the default (no body, no type) is DER, as in Go. */
const requestFormat = (type: string): RequestFormat => (type === JSON_MEDIA_TYPE ? 'json' : 'der');

/**
 * Whether a request without Content-Type may carry a body Fastify did not read: an HTTP/2 one
 * whose HEADERS frame did not end the stream, with no content-length. Fastify takes a request
 * with neither Content-Type, Content-Length nor Transfer-Encoding for bodyless, and HTTP/2 has no
 * Transfer-Encoding: such a body is the HTTP/1.1 chunked one, refused for its (missing) type.
 */
const mayHaveUntypedBody = (raw: IncomingMessage | Http2ServerRequest): boolean =>
  'stream' in raw &&
  !raw.stream.endAfterHeaders &&
  raw.headers['content-type'] === undefined &&
  raw.headers['content-length'] === undefined;

/**
 * Whether a request has a body, as go-openapi's runtime.HasBody tells before it checks the
 * Content-Type: a Content-Length above 0, or a body of unknown length (chunked, or an HTTP/2
 * stream its HEADERS frame did not end).
 */
const hasBody = (raw: IncomingMessage | Http2ServerRequest): boolean => {
  const length = raw.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  if ('stream' in raw) return !raw.stream.endAfterHeaders;
  return raw.headers['transfer-encoding'] !== undefined;
};

/** chi's NoCache middleware, which the Go server puts on the timestamp route. */
const NO_CACHE_HEADERS = {
  expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
  'cache-control': 'no-cache, no-store, no-transform, must-revalidate, private, max-age=0',
  pragma: 'no-cache',
  'x-accel-expires': '0',
};

/** Fastify's methods we answer 405 for on a known path. */
const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export interface ServerDependencies {
  config: ServeConfig;
  authority: TimestampAuthority;
  /** PEM of the whole chain, leaf first. */
  chainPem: string;
  /** Named profiles besides the default one (`authority`, `chainPem`). */
  profiles?: readonly ServedProfile[];
  /** Serves GET /api/v1/timestamp/trusted-root when given. */
  trustedRoot?: TrustedRootSource;
  logger: FastifyBaseLogger;
  /** The listener this instance serves (default: plain HTTP). */
  transport?: Transport;
  /** Shared with the process's other listeners; /readyz reads it. */
  state?: ServingState;
  /** The process's, shared by its listeners; without it the server opens (and closes) its own. */
  shared?: ListenerShared;
  /** How --audit-log's file is opened when the server opens its own (tests inject failing writes). */
  openAuditFile?: OpenAuditFile;
  /** The process's --ledger-url: every granted token is committed there before it is sent. */
  ledger?: ProcessLedger | undefined;
}

/**
 * What every listener of the process shares, built once by whoever starts them: one audit log
 * (one file, one queue, one SIGHUP handler) and one rate-limit store (one quota per client).
 */
export interface ListenerShared extends AsyncDisposable {
  auditLog: ProcessAuditLog | undefined;
  rateLimitStore: RateLimitStore;
}

export async function openListenerShared(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  auditOptions?: AuditLogOptions,
): Promise<ListenerShared> {
  const auditLog = await openProcessAuditLog(config, logger, auditOptions);
  return {
    auditLog,
    rateLimitStore: new RateLimitStore(),
    [Symbol.asyncDispose]: async () => {
      await auditLog?.[Symbol.asyncDispose]();
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    tsaOutcome: IssueOutcome | null;
    /** The message of a refusal answered with the Go JSON error (sendGoError), for its log line. */
    httpRefusal: string | null;
  }
}

export async function buildServer(deps: ServerDependencies) {
  const { config, authority } = deps;
  const profiles = deps.profiles ?? [];
  // With profiles, POST /api/v1/timestamp routes by the request's policy.
  const issuer: Issuer = profiles.length > 0 ? new ProfileRouter(authority, profiles) : authority;
  knowPaths(profiles.flatMap((profile) => Object.values(profileRoutes(profile.name))));
  const requestIdHeader = config.httpRequestIdHeaderName.toLowerCase();
  // 0 means no limit, as in Go.
  const bodyLimit =
    config.maxRequestBodySize === 0 ? Number.MAX_SAFE_INTEGER : config.maxRequestBodySize;
  const app = Fastify({
    loggerInstance: deps.logger,
    // One log line per request, written by our onResponse hook.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestID',
    }),
    // Read by requestIdFrom, which bounds what a client may choose.
    requestIdHeader: false,
    genReqId: requestIdFrom(requestIdHeader),
    childLoggerFactory: (logger, bindings, options) =>
      new LazyChildLogger(logger, bindings, options),
    bodyLimit,
    // Go serves /ping case-insensitively (chi Heartbeat compares the path, not the query);
    // every other path is case-sensitive, and routed as go-openapi routes it: cleaned (Go's
    // path.Clean), so that `/api/v1/timestamp/` is the timestamp route. Heartbeat does not clean:
    // `/ping/` is not found; nor do the log's routes, whose tiles have one URL each (log-routes.ts).
    // The log and a 404 say the path as sent (request.originalUrl).
    rewriteUrl: (request) => {
      const url = request.url ?? '/';
      // The path of an absolute-form target too (GET http://tsa/PING), as the router reads it.
      const target = originFormTarget(url);
      const query = target.indexOf('?');
      const path = query < 0 ? target : target.slice(0, query);
      const lowerCase = path.toLowerCase();
      if (lowerCase === ROUTES.ping)
        return path === ROUTES.ping ? url : ROUTES.ping + target.slice(path.length);
      if (!path.startsWith('/') || !mayNeedCleaning(path)) return url;
      const clean = cleanPath(path);
      if (clean.toLowerCase() === ROUTES.ping || clean.startsWith(LOG_PREFIX)) return url;
      // An absolute-form target keeps its scheme and authority: /trusted-root reads its origin
      // from them (request-origin.ts).
      const authority = url.endsWith(target) ? url.slice(0, url.length - target.length) : '';
      return authority + clean + target.slice(path.length);
    },
    return503OnClosing: true,
    // Node's HTTP/1.1 parser errors and --read-timeout's 408: the Go JSON body, and the status
    // recorded for a request in flight, or logged and counted for one never parsed.
    clientErrorHandler: clientErrorHandler(config.maxHeaderSize, (status, error, socket) => {
      countUnparsedRequest(status);
      logUnparsedRequest(deps.logger, status, error, socket);
    }),
    // A URL the router cannot decode: the Go JSON body, logged and counted.
    frameworkErrors: frameworkErrorHandler(requestIdHeader),
    ...transportOptions(config, deps.transport),
    trustProxy: trustProxySetting(config),
  });
  app.decorateRequest('tsaOutcome', null);
  app.decorateRequest('httpRefusal', null);
  // First: every later hook, the request log and the metrics see the request's own method. Only
  // HTTP/2 carries methods Node's HTTP/1.1 parser does not know: the plain listener pays no hook.
  if (deps.transport?.kind === 'https') routeUnknownMethods(app);
  routeConnectRequests(app.server);
  registerOperations(app, { transport: deps.transport, pingPath: ROUTES.ping });
  if (deps.transport?.kind === 'https') enforceHttp2HeaderLimit(app, config.maxHeaderSize);

  // Only the two request media types; Fastify's defaults (text/plain...) are removed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [TIMESTAMP_QUERY, JSON_MEDIA_TYPE],
    { parseAs: 'buffer' },
    (request, body, done) => {
      if (!requestCut(request)) return done(null, body);
      // Answered already (HTTP/2's 408 at --read-timeout): nothing to send, Fastify would warn.
      if (answeredWhileArriving(request)) return;
      // A truncated body may still parse: a request that did not arrive whole is not handled.
      done(new RequestCutError(), body);
    },
  );

  // Callback hooks, not async ones, on every request: no promise each.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(requestIdHeader, request.id);
    // Answered before a large body was read (404, 405, 415, 429...): closing stops the reading.
    if (leavesLargeBodyUnread(request.raw)) reply.header('connection', 'close');
    done(null, payload);
  });
  registerRequestLog(app, deps.logger);

  const unsupportedMediaType = (request: FastifyRequest, reply: FastifyReply) =>
    sendGoError(
      reply,
      415,
      `unsupported media type ${JSON.stringify(mediaType(request.headers['content-type']).slice(0, 100) || 'application/octet-stream')}, only [${TIMESTAMP_QUERY} ${JSON_MEDIA_TYPE}] are allowed`,
    );
  /** The timestamp routes, each with the profile its path names (none for /api/v1/timestamp). */
  const timestampRoutes = new Map<string, string | undefined>([
    [ROUTES.timestamp, undefined],
    ...profiles.map(({ name }) => [profileRoutes(name).timestamp, name] as const),
  ]);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // No one to answer (an abort is logged when the connection or stream closes), or already answered.
    if (error instanceof RequestCutError || clientAborted(request)) {
      reply.hijack();
      return undefined;
    }
    // Fastify's body parser asks to close the connection after a body error (413); HTTP/2 has no
    // Connection header: Node drops it with a plain-text warning on stderr, amid the JSON log.
    if (request.raw.httpVersionMajor === 2) reply.removeHeader('connection');
    // Refused before the handler ran (415, 413): Go's NoCache wraps the route, its body parsing too.
    if (timestampRoutes.has(request.routeOptions.url ?? '')) reply.headers(NO_CACHE_HEADERS);
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendGoError(
          reply,
          413,
          `request body is larger than ${config.maxRequestBodySize} bytes`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return unsupportedMediaType(request, reply);
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return sendGoError(reply, status, error.message);
    request.log.error({ err: error }, 'unexpected error');
    return sendGoError(reply, 500, 'Error generating timestamp response');
  });

  let shared = deps.shared;
  if (!shared) {
    const own = await openListenerShared(
      config,
      deps.logger,
      deps.openAuditFile ? { openFile: deps.openAuditFile } : {},
    );
    app.addHook('onClose', () => own[Symbol.asyncDispose]());
    shared = own;
  }
  await registerRateLimit(app, config, shared.rateLimitStore, [...timestampRoutes.keys()]);
  const answer = httpAnswers(config);
  const audit = installAuditLog(
    app,
    config,
    timestampRoutes,
    answer,
    shared.auditLog,
    new Map(profiles.map((profile) => [profile.name, profile.defaultPolicyOid])),
  );

  /** The methods each known path answers; any other method there is 405, not 404. */
  const allowedMethods = new Map<string, readonly string[]>();
  /** The same under a wildcard route (the log's tiles), by the path's prefix. */
  const allowedUnder: [prefix: string, allowed: readonly string[]][] = [];
  const allowedAt = (path: string) =>
    allowedMethods.get(path) ?? allowedUnder.find(([prefix]) => path.startsWith(prefix))?.[1];
  const refuseMethod = (request: FastifyRequest, reply: FastifyReply, allowed: readonly string[]) =>
    sendGoError(
      reply.header('allow', allowed.join(', ')),
      405,
      // An HTTP/2 method may be any token, up to --max-header-size long.
      `method ${loggedMethod(request.method)} is not allowed, but [${allowed.join(' ')}] are`,
    );
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    // As the router reads an absolute-form target: by its path.
    const path = targetPath(request.url);
    // Methods Fastify does not route (TRACE, PROPFIND, QUERY...) on a known path are 405 too; an
    // allowed method here asked for a spelling no route serves (a tile path with a #fragment).
    const allowed = allowedAt(path);
    if (allowed && !allowed.includes(request.method)) return refuseMethod(request, reply, allowed);
    // Go's message says the path as sent, not as cleaned.
    const message = `path ${targetPath(request.originalUrl).slice(0, 200)} was not found`;
    // A log path's 404 is never kept by a cache, as the log routes' own (log-routes.ts).
    if (path.startsWith(LOG_PREFIX)) return refuseLogRequest(reply, 404, message);
    return sendGoError(reply, 404, message);
  };
  answerExpectations(app.server);
  /**
   * A timestamp POST's `Expect: 100-continue` is met here, where its body is about to be read:
   * after every check its headers alone decide (the rate limit's 429 included), and only for a
   * body that will be read (a media type parsed, within --max-request-body-size).
   */
  const continueIfRead: preParsingHookHandler = (request, reply, payload, done) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (
      REQUEST_MEDIA_TYPES.has(mediaType(request.headers['content-type'])) &&
      !(declared > bodyLimit)
    ) {
      sendContinue(request.raw, reply.raw);
    }
    done(null, payload);
  };
  /**
   * go-openapi's 400 for a timestamp request whose Content-Type Go cannot parse (`;;;`, `a/`),
   * before the body is read, as Go refuses it: not read as DER (a bad parameter) nor 415.
   */
  const unparsableContentType = (request: FastifyRequest): string | undefined => {
    const contentType = request.headers['content-type'];
    // The types clients send cost one comparison.
    if (contentType === TIMESTAMP_QUERY || contentType === JSON_MEDIA_TYPE) return undefined;
    if (request.method !== 'POST' || !timestampRoutes.has(request.routeOptions.url ?? ''))
      return undefined;
    return hasBody(request.raw) ? contentTypeParseRefusal(contentType) : undefined;
  };
  // Before the body is read: a body method (QUERY...) would otherwise be refused for its type.
  // One hook for these checks (each hook costs every request its run). Node's own Host check
  // (requireHostHeader, off in transport.ts) answered a bare 400 before any hook, on the plain-HTTP
  // listener only. Go: 400 for a missing, repeated or malformed Host, connection closed; 501 for a
  // transfer coding, its body left unread (here 400: transfer-coding.ts).
  app.addHook('onRequest', (request, reply, done) => {
    const version = unsupportedHttpVersion(request.raw);
    if (version !== undefined) {
      // Go: 400 without a version, 505 for another; a 4xx here, as every refusal of client input.
      sendGoError(reply.header('connection', 'close'), 400, `${version} is not supported`);
      return;
    }
    const hostRefused = hostRefusal(request.raw);
    if (hostRefused !== undefined) {
      // Go closes the connection after its 400.
      if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
      sendGoError(reply, 400, hostRefused);
      return;
    }
    if (unsupportedTransferCoding(request.raw)) {
      sendGoError(reply.header('connection', 'close'), 400, UNSUPPORTED_TRANSFER_CODING_MESSAGE);
      return;
    }
    if (hasUnmetExpectation(request.raw)) {
      // Closing an HTTP/1.x connection, as Go does: its body is never read.
      if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
      sendGoError(reply, 417, 'unsupported Expect header: only 100-continue is supported');
      return;
    }
    // `OPTIONS *` asks about the server, not a resource (RFC 9110 section 9.3.7): Go's net/http
    // answers it 200, empty, before any handler.
    if (request.raw.url === '*' && request.method === 'OPTIONS') {
      reply.send();
      return;
    }
    if (request.is404 || fragmentInPath(request.raw.url)) {
      notFound(request, reply);
      return;
    }
    const unparsable = unparsableContentType(request);
    if (unparsable === undefined) return done();
    // Go's NoCache wraps the route, go-openapi's checks too.
    sendGoError(reply.headers(NO_CACHE_HEADERS), 400, unparsable);
  });
  app.setNotFoundHandler(notFound);

  const methodNotAllowed = (path: string, allowed: readonly string[]): void => {
    if (path.endsWith('/*')) allowedUnder.push([path.slice(0, -1), allowed]);
    else allowedMethods.set(path, allowed);
    app.route({
      method: OTHER_METHODS.filter((method) => !allowed.includes(method)),
      url: path,
      // Answered before the body is read (a PUT with a body would get 415 or 413): done() is
      // not called.
      onRequest: (request, reply, _done) => {
        refuseMethod(request, reply, allowed);
      },
      handler: (request, reply) => refuseMethod(request, reply, allowed),
    });
  };

  // The requests read in one turn are issued together after it: their signatures run back to
  // back with the signing code in the CPU's caches (turn-batch.ts).
  const tokensInTurns = new TurnBatch((call: IssueCall) =>
    call.issuer.issue(call.body, call.format, call.context),
  );

  /** A client that goes away cancels its remote signing call instead of holding a KMS slot. */
  const issueFor = (
    issuer: Issuer,
    reply: FastifyReply,
    body: Buffer,
    format: RequestFormat,
    context: IssueContext,
  ): Promise<IssueOutcome> => {
    if (!issuer.cancellable) return tokensInTurns.add({ issuer, body, format, context });
    const abandoned = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) abandoned.abort();
    };
    reply.raw.once('close', onClose);
    return issuer
      .issue(body, format, { ...context, signal: abandoned.signal })
      .finally(() => reply.raw.off('close', onClose));
  };

  // One request's walk: media type -> issue() (guards, token, audit record) -> HTTP answer.
  const timestampRoute = (path: string, issuer: Issuer): void => {
    app.post(path, { preParsing: continueIfRead }, async (request, reply) => {
      reply.headers(NO_CACHE_HEADERS);
      const format = requestFormat(mediaType(request.headers['content-type']));
      const given = request.body as Buffer | undefined;
      // "No body and no type is DER" holds only where there is no body.
      if (given === undefined && mayHaveUntypedBody(request.raw)) {
        return unsupportedMediaType(request, reply);
      }
      const body = given ?? Buffer.alloc(0);
      // Go's answer to a JSON client that sent nothing (go-openapi's validation code 602, sent as
      // 422). An empty DER body is read as a request and refused as one, for DER clients.
      if (format === 'json' && body.length === 0) {
        return sendGoError(reply, 422, REQUEST_BODY_REQUIRED, 602);
      }
      const requestAudit = audit(request, format);
      const { ledger } = deps;
      let logIndex: number | undefined;
      // The ledger first (a taken serial number makes issue() sign again), then the audit line.
      const record = ledger
        ? async (granted: GrantedOutcome) => {
            try {
              logIndex = (await ledger.record(granted)).index;
            } catch (error) {
              requestAudit.withheld(granted.serialNumber);
              throw error;
            }
            await requestAudit.record?.(granted);
          }
        : requestAudit.record;
      const outcome = await issueFor(issuer, reply, body, format, record ? { record } : {});
      request.tsaOutcome = outcome;
      if (outcome.status === 'granted' && logIndex !== undefined) {
        reply.header('x-log-index', String(logIndex));
      }
      const http = answer(outcome, format);
      if (outcome.status === 'rejection') requestAudit.rejected(outcome, http.status);
      return sendAnswer(reply, http);
    });
    methodNotAllowed(path, ['POST']);
  };

  const certchainRoute = (path: string, chainPem: string): void => {
    app.get(path, async (request, reply) => {
      if (!accepts(request.headers.accept, PEM_CHAIN)) {
        return sendGoError(
          reply,
          406,
          `unsupported media type requested, only [${PEM_CHAIN}] are available`,
        );
      }
      // An hour, not Go's `max-age=86400, immutable`: a key rotation changes the chain at this
      // URL, and caches must pick the new one up (docs/compatibility.md).
      return reply.header('cache-control', 'max-age=3600').type(PEM_CHAIN).send(chainPem);
    });
    methodNotAllowed(path, ['GET', 'HEAD']);
  };

  timestampRoute(ROUTES.timestamp, issuer);
  certchainRoute(ROUTES.certchain, deps.chainPem);
  for (const profile of profiles) {
    const routes = profileRoutes(profile.name);
    timestampRoute(routes.timestamp, profile.authority);
    certchainRoute(routes.certchain, profile.chainPem);
  }

  const { trustedRoot } = deps;
  if (trustedRoot) {
    // Its entries' uri is where the client reached us: the answer varies with the Host (and, from
    // a trusted proxy, with X-Forwarded-Host and -Proto, which Fastify reads instead).
    const varies =
      config.trustedProxies.length > 0 ? 'Host, X-Forwarded-Host, X-Forwarded-Proto' : 'Host';
    app.get(ROUTES.trustedRoot, async (request, reply) => {
      if (ambiguousAuthority(request))
        return sendGoError(
          reply,
          400,
          "the request's host is ambiguous (two Host headers, or a host header unlike :authority)",
        );
      const origin = requestOrigin(request);
      if (origin === null) return sendGoError(reply, 400, 'the Host header is not host[:port]');
      return (
        reply
          .header('vary', addVary(reply.getHeader('vary'), varies))
          // Changes only with the configuration; clients refresh it as they refresh their TUF root.
          .header('cache-control', 'max-age=3600')
          .header('content-type', TRUSTED_ROOT_MEDIA_TYPE)
          // A Buffer: Fastify would rewrite a string's media type (quoting version, adding charset).
          .send(Buffer.from(JSON.stringify(trustedRoot(origin), null, 2)))
      );
    });
    methodNotAllowed(ROUTES.trustedRoot, ['GET', 'HEAD']);
  }

  if (deps.ledger?.log) {
    // Labelled by route (the tiles by their one wildcard route): log reads and log outages apart
    // from 404 scanners' `unrecognized`.
    knowPaths(Object.values(LOG_ROUTES));
    registerLogRoutes(app, deps.ledger.log);
    for (const path of Object.values(LOG_ROUTES)) methodNotAllowed(path, ['GET', 'HEAD']);
  }

  registerHealthRoutes(
    app,
    authority,
    deps.state ?? createServingState(),
    profiles.map(({ name, authority: profileAuthority }) => ({
      name,
      authority: profileAuthority,
    })),
  );
  for (const path of HEALTH_PATHS) methodNotAllowed(path, ['GET', 'HEAD']);
  methodNotAllowed(OPENAPI_PATH, ['GET', 'HEAD']);

  return app;
}

export type TsaServer = Awaited<ReturnType<typeof buildServer>>;
