import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { pathLabel, methodLabel } from '../../../src/server/http-metrics.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { checkMetrics } from '../../helpers/promtool.js';
import { silentLogger } from '../../helpers/tsa.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

let server: RunningServer;
let text: string;
let wallSeconds: number;

beforeAll(async () => {
  server = await startServer(
    resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true }),
    silentLogger,
  );
  const started = performance.now();
  const post = (body: Buffer | string, type: string) =>
    fetch(`${server.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
  expect((await post(helloTimeStampReq(), 'application/timestamp-query')).status).toBe(200);
  expect((await post(helloTimeStampReq(), 'application/timestamp-query')).status).toBe(200);
  expect(
    (await post('{"artifactHash":"AA==","hashAlgorithm":"sha1"}', 'application/json')).status,
  ).toBe(400);
  // A DER rejection: HTTP 200 with the TimeStampResp (--der-rejection-status=rfc).
  expect((await post(Buffer.from([0x30, 0x00]), 'application/timestamp-query')).status).toBe(200);
  expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  expect((await fetch(`${server.url}/livez`)).status).toBe(200);
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  expect((await fetch(`${server.url}/openapi.yaml`)).status).toBe(200);
  expect((await fetch(`${server.url}/no/such/path`)).status).toBe(404);
  // Served (Go's router cleans the path), but not under a known path's label: as Go.
  expect((await fetch(`${server.url}/api/v1/timestamp/`)).status).toBe(405);
  expect((await fetch(`${server.url}/PING`)).status).toBe(200);
  expect((await fetch(`${server.url}/api/v1/timestamp`, { method: 'PATCH' })).status).toBe(405);
  expect((await fetch(`${server.url}/api/v1/timestamp`, { method: 'PROPFIND' })).status).toBe(405);
  wallSeconds = (performance.now() - started) / 1000;
  const response = await fetch(server.metricsUrl);
  expect(response.headers.get('content-type')).toContain('text/plain');
  text = await response.text();
});
afterAll(() => server.close());

const sample = (name: string, labels: string) =>
  new RegExp(`^${name}\\{${labels.replace(/[/.]/g, '\\$&')}\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1];

describe('Prometheus endpoint', () => {
  it('passes promtool check metrics (only the accepted lint remarks)', () => {
    const { status, problems } = checkMetrics(text);
    expect(problems).toEqual([]);
    // 0 = clean, 3 = lint remarks only; 1 would be a format error.
    expect([0, 3]).toContain(status);
  });

  it('counts requests with the Go names and label bounds', () => {
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="200",path="/api/v1/timestamp",method="POST"',
      ),
    ).toBe('3');
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="400",path="/api/v1/timestamp",method="POST"',
      ),
    ).toBe('1');
    expect(
      sample('timestamp_authority_http_requests_total', 'code="200",path="/ping",method="GET"'),
    ).toBe('1');
    // The health probes and the API description under their own paths, apart from unknown ones.
    for (const probe of ['/livez', '/readyz', '/openapi.yaml'])
      expect(
        sample(
          'timestamp_authority_http_requests_total',
          `code="200",path="${probe}",method="GET"`,
        ),
        probe,
      ).toBe('1');
    // Unknown paths, paths served only once cleaned or case-folded (/api/v1/timestamp/, /PING), as
    // Go labels them, and methods outside GET/POST/HEAD/OPTIONS are bounded.
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="404",path="unrecognized",method="GET"',
      ),
    ).toBe('1');
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="405",path="unrecognized",method="GET"',
      ),
    ).toBe('1');
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="200",path="unrecognized",method="GET"',
      ),
    ).toBe('1');
    expect(
      sample(
        'timestamp_authority_http_requests_total',
        'code="405",path="/api/v1/timestamp",method="unrecognized"',
      ),
    ).toBe('2');
    expect(text).not.toContain('/no/such/path');
    expect(pathLabel('/PING')).toBe('unrecognized');
    expect(methodLabel('PROPFIND')).toBe('unrecognized');
  });

  it('keeps the Go metrics in Go\u2019s unit, nanoseconds, and Go\u2019s buckets', () => {
    // latency_by_api: Go's ExponentialBucketsRange(1e6, 4e9, 10) nanoseconds, 1 ms .. 4 s.
    expect(text).toMatch(
      /^timestamp_authority_latency_by_api_bucket\{le="1000000",path="\/ping",method="GET"\} /m,
    );
    expect(text).toMatch(
      /^timestamp_authority_latency_by_api_bucket\{le="4000000000",path="\/ping",method="GET"\} 1$/m,
    );
    // As Go's SummaryVec without objectives: _sum and _count, no quantiles.
    expect(text).toMatch(
      /^timestamp_authority_api_latency_summary_count\{path="\/api\/v1\/timestamp",code="200"\} 3$/m,
    );
    expect(text).toMatch(/^# TYPE timestamp_authority_api_latency_summary summary$/m);
    expect(text).not.toContain('timestamp_authority_api_latency_summary{quantile');
    // api_latency keeps the default buckets (5 ms .. 10 s) as Go: nanoseconds all land in +Inf.
    expect(text).toMatch(
      /^timestamp_authority_api_latency_bucket\{le="10",path="\/api\/v1\/timestamp",code="200"\} 0$/m,
    );
    expect(text).toMatch(
      /^timestamp_authority_api_latency_bucket\{le="\+Inf",path="\/api\/v1\/timestamp",code="200"\} 3$/m,
    );
    // Sequential requests cannot take longer in total than the wall-clock time around them, and
    // each took more than a microsecond: nanoseconds, not seconds or milliseconds.
    for (const name of [
      'timestamp_authority_api_latency',
      'timestamp_authority_api_latency_summary',
    ]) {
      const total = Number(sample(`${name}_sum`, 'path="/api/v1/timestamp",code="200"'));
      expect(total, name).toBeGreaterThan(3 * 1_000);
      expect(total, name).toBeLessThanOrEqual(wallSeconds * 1e9);
    }
  });

  it('has the request latency in seconds under a Prometheus name', () => {
    const labels = 'code="200",path="/api/v1/timestamp",method="POST"';
    const seconds = Number(sample('timestamp_authority_http_request_duration_seconds_sum', labels));
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(wallSeconds);
    const nanoseconds = Number(
      sample('timestamp_authority_api_latency_sum', 'path="/api/v1/timestamp",code="200"'),
    );
    expect(nanoseconds / seconds).toBeCloseTo(1e9, -3);
    // Two grants and one DER rejection answered 200.
    expect(sample('timestamp_authority_http_request_duration_seconds_count', labels)).toBe('3');
    expect(text).toMatch(
      /^timestamp_authority_http_request_duration_seconds_bucket\{le="0\.001",code="200",path="\/api\/v1\/timestamp",method="POST"\} /m,
    );
  });

  it('counts issuance outcomes by failInfo', () => {
    expect(sample('timestamp_authority_issuance_total', 'outcome="granted",fail_info="none"')).toBe(
      '2',
    );
    expect(
      sample('timestamp_authority_issuance_total', 'outcome="rejected",fail_info="badAlg"'),
    ).toBe('1');
    expect(
      sample('timestamp_authority_issuance_total', 'outcome="rejected",fail_info="badDataFormat"'),
    ).toBe('1');
  });

  it('exposes build info, certificate lifetime and Node runtime metrics', () => {
    expect(text).toMatch(
      /^timestamp_authority_build_info\{version="[^"]+",revision="[^"]+",build_date="[^"]+",nodeversion="v[0-9][^"]*"\} 1$/m,
    );
    const notAfter = Math.min(
      ...server.chain.map((certificate) => Date.parse(certificate.x509.validTo)),
    );
    const days = Number(
      /^timestamp_authority_certificate_valid_days_remaining ([0-9.e+]+)$/m.exec(text)?.[1],
    );
    expect(days).toBeGreaterThan(0);
    expect(Math.abs(days - (notAfter - Date.now()) / 86_400_000)).toBeLessThan(1);
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    }
  });

  it('serves only /metrics on its listener', async () => {
    expect((await fetch(server.metricsUrl.replace('/metrics', '/'))).status).toBe(404);
  });
});
