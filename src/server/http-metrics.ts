import { Gauge, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Certificate } from '../x509/certificate.js';
import { earliestChainEnd } from '../x509/chain-end.js';
import { versionInfo } from '../version.js';
import { registry } from '../metrics/registry.js';
import { clientAborted } from './client-aborts.js';
import { HEALTH_PATHS } from './health.js';
import { observeUnhooked } from './unhooked-requests.js';
import { BoundCounter } from './bound-counter.js';
import { BucketHistogram } from './bucket-histogram.js';
import { OPENAPI_PATH } from './openapi.js';
import { targetPath } from './request-origin.js';
import { SumCountSummary } from './sum-count-summary.js';

/**
 * The Go server's label bounds (#1374): three paths, four methods, everything else `unrecognized`;
 * plus the trusted root, the health probes (kept apart from 404 scanners) and the configured
 * profiles' routes (bounded by the configuration) and the OpenAPI description.
 */
const KNOWN_PATHS = new Set([
  ...HEALTH_PATHS,
  '/api/v1/timestamp',
  '/api/v1/timestamp/certchain',
  '/api/v1/timestamp/trusted-root',
  OPENAPI_PATH,
]);

/** Adds the routes of the configured profiles to the known paths. */
export function knowPaths(paths: readonly string[]): void {
  for (const path of paths) KNOWN_PATHS.add(path);
}
const KNOWN_METHODS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS']);
const UNRECOGNIZED = 'unrecognized';

/**
 * The `path` label of a request sent to `path` and served by the route `route` (if any): the path
 * when it is a known one, as sent (Go's r.URL.Path: `/PING` and `/api/v1/timestamp/` are served
 * through the router's rewrite, app.ts, but `unrecognized`, as in Go); a route of many paths (the
 * log's tiles, `/api/v1/log/tile/*`) counts its paths under its own pattern.
 */
export function pathLabel(path: string, route?: string): string {
  if (KNOWN_PATHS.has(path)) return path;
  return route?.endsWith('*') && KNOWN_PATHS.has(route) ? route : UNRECOGNIZED;
}

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : UNRECOGNIZED;
}

/** Go's ExponentialBucketsRange(1e6, 4e9, 10), computed as Go does: 1 ms .. 4 s in nanoseconds. */
const LATENCY_BY_API_BUCKETS_NS = Array.from(
  { length: 10 },
  (_, i) => 1e6 * Math.pow(Math.pow(4e9 / 1e6, 1 / 9), i),
);
const NS_PER_MS = 1e6;
/** prom-client's default buckets, which the Go server's api_latency keeps (Prometheus's). */
const PROMETHEUS_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// The Go server's three latency metrics, with Go's unit (nanoseconds, as time.Duration observed
// as a float) and Go's buckets, so that the Go dashboards and alerts read them unchanged. Go's
// api_latency keeps Prometheus's default buckets (5 ms .. 10 s, meant for seconds): every
// observation lands in +Inf there, as in Go; use _sum / _count, or the _seconds histogram below.
const apiLatency = new BucketHistogram(
  'timestamp_authority_api_latency',
  'Request latency in nanoseconds by path and status code (the Go server unit)',
  ['path', 'code'],
  PROMETHEUS_DEFAULT_BUCKETS,
  registry,
);
const apiLatencySummary = new SumCountSummary(
  'timestamp_authority_api_latency_summary',
  'Request latency in nanoseconds by path and status code (the Go server unit)',
  ['path', 'code'],
  registry,
);
const latencyByApi = new BucketHistogram(
  'timestamp_authority_latency_by_api',
  'Request latency in nanoseconds by path and method (the Go server unit)',
  ['path', 'method'],
  LATENCY_BY_API_BUCKETS_NS,
  registry,
);
/** The same latency in the Prometheus base unit, with buckets that mean something: 1 ms .. 4 s. */
const requestDuration = new BucketHistogram(
  'timestamp_authority_http_request_duration_seconds',
  'Request latency in seconds by status code, path and method',
  ['code', 'path', 'method'],
  LATENCY_BY_API_BUCKETS_NS.map((ns) => ns / 1e9),
  registry,
);
const requestsTotal = new BoundCounter(
  'timestamp_authority_http_requests_total',
  'HTTP requests by status code, path and method',
  ['code', 'path', 'method'],
  registry,
);
/** Requests refused before they were parsed: no path or method to label them with. */
const unparsedRequestsTotal = new BoundCounter(
  'timestamp_authority_http_unparsed_requests_total',
  'HTTP/1.1 requests answered before they were parsed (malformed, headers too large, headers not received within the read timeout) by status code',
  ['code'],
  registry,
);
const issuanceTotal = new BoundCounter(
  'timestamp_authority_issuance_total',
  'Time-stamp requests by outcome: granted, or rejected with its RFC 3161 failInfo',
  ['outcome', 'fail_info'],
  registry,
);
/** The same by profile, in a server with named profiles (bounded: the configured names). */
const profileIssuanceTotal = new BoundCounter(
  'timestamp_authority_profile_issuance_total',
  'Time-stamp requests by profile and outcome: granted, or rejected with its RFC 3161 failInfo',
  ['profile', 'outcome', 'fail_info'],
  registry,
);

const info = versionInfo();
new Gauge({
  name: 'timestamp_authority_build_info',
  help: 'Build facts of the running server; the value is always 1',
  labelNames: ['version', 'revision', 'build_date', 'nodeversion'] as const,
  registers: [registry],
  // Across cluster workers (src/runtime/cluster): the same facts, not their sum.
  aggregator: 'first',
}).set(
  {
    version: info.gitVersion,
    revision: info.gitCommit,
    build_date: info.buildDate,
    nodeversion: info.nodeVersion,
  },
  1,
);

let chainNotAfter = Number.POSITIVE_INFINITY;
new Gauge({
  name: 'timestamp_authority_certificate_valid_days_remaining',
  help: 'Days until the earliest-expiring certificate of any chain served expires',
  registers: [registry],
  aggregator: 'min',
  collect() {
    // Go reports MaxFloat64 before the chain is loaded.
    this.set(
      Number.isFinite(chainNotAfter) ? (chainNotAfter - Date.now()) / 86_400_000 : Number.MAX_VALUE,
    );
  },
});

/**
 * Records the chains (leaf first) whose earliest end `..._certificate_valid_days_remaining`
 * reports: a certificate's expiry, or the end of a leaf's private key usage period, after which
 * its key signs no more tokens either.
 */
export function observeCertificateChains(chains: readonly (readonly Certificate[])[]): void {
  // The start-up rules have read each leaf's period: it parses.
  chainNotAfter = earliestChainEnd(chains)?.at ?? Number.POSITIVE_INFINITY;
}

let runtimeMetricsStarted = false;
/** Node process and runtime metrics (CPU, memory, GC, handles, event-loop lag), once per process. */
export function startRuntimeMetrics(): void {
  if (runtimeMetricsStarted) return;
  runtimeMetricsStarted = true;
  collectDefaultMetrics({ register: registry });
}

type Observer = (milliseconds: number) => void;
/** Label lookups hash strings; the hot path reuses one observer per label set instead. */
const observers = new Map<string, Observer>();

function observerFor(path: string, method: string, code: string): Observer {
  const key = `${path} ${method} ${code}`;
  let observer = observers.get(key);
  if (!observer) {
    const latency = apiLatency.labels(path, code);
    const summary = apiLatencySummary.labels(path, code);
    const byApi = latencyByApi.labels(path, method);
    const duration = requestDuration.labels(code, path, method);
    const requests = requestsTotal.labels(code, path, method);
    observer = (milliseconds) => {
      const nanoseconds = milliseconds * NS_PER_MS;
      latency.observe(nanoseconds);
      summary.observe(nanoseconds);
      byApi.observe(nanoseconds);
      duration.observe(milliseconds / 1_000);
      requests.inc();
    };
    observers.set(key, observer);
  }
  return observer;
}

const issuanceCounters = new Map<string, { inc(): void }>();
function issuanceCounterFor(failInfo: string, profile: string | undefined): { inc(): void } {
  const key = profile === undefined ? failInfo : `${failInfo} ${profile}`;
  let counter = issuanceCounters.get(key);
  if (!counter) {
    const outcome = failInfo === 'none' ? 'granted' : 'rejected';
    const total = issuanceTotal.labels(outcome, failInfo);
    const byProfile =
      profile === undefined ? undefined : profileIssuanceTotal.labels(profile, outcome, failInfo);
    counter = byProfile
      ? {
          inc: () => {
            total.inc();
            byProfile.inc();
          },
        }
      : total;
    issuanceCounters.set(key, counter);
  }
  return counter;
}

function observe(request: FastifyRequest, status: number, elapsedMs: number): void {
  // A 405 may have no route: its path is still known.
  const path = pathLabel(targetPath(request.originalUrl), request.routeOptions.url);
  observerFor(path, methodLabel(request.method), String(status))(elapsedMs);
}

/**
 * Counts and times every request of `app` (including /ping, as Go does); a request whose client
 * went away before its answer is counted once, with code 499 (408 or 444 where the server cut it).
 */
export function registerRequestMetrics(app: FastifyInstance): void {
  // Callback hooks, not async ones: no promise per request on the hot path.
  app.addHook('onResponse', (request, reply, done) => {
    if (!clientAborted(request)) observe(request, reply.statusCode, reply.elapsedTime);
    done();
  });
  observeUnhooked(app, observe);
  // When the answer is sent, not when it has arrived: a token issued for a client that reset its
  // stream meanwhile was issued all the same (and is in the audit log).
  app.addHook('onSend', (request, _reply, payload, done) => {
    const outcome = request.tsaOutcome;
    if (outcome)
      issuanceCounterFor(
        outcome.status === 'granted' ? 'none' : outcome.failInfo,
        outcome.profile,
      ).inc();
    done(null, payload);
  });
}

/** Counts a request refused before it was parsed (client-errors.ts), by the status sent. */
export function countUnparsedRequest(status: number): void {
  unparsedRequestsTotal.labels(String(status)).inc();
}
