import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { openssl, tempDir } from '../helpers/openssl.js';
import { silentLogger } from '../helpers/tsa.js';
import { runLoadTest, stages } from '../loadtest/loadtest.js';
import { helloTimeStampReq } from '../loadtest/request.js';
import { brokenThresholds, GO_THRESHOLDS, percentile } from '../loadtest/thresholds.js';

describe('load test thresholds (Go k6: p95 < 1 s, errors < 0.1 %)', () => {
  it('computes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBe(0);
  });

  it('passes a run within both thresholds and names each broken one', () => {
    const ok = { requests: 10_000, errors: 9, p95Ms: 999, statusCounts: { 200: 9_991 } };
    expect(brokenThresholds(ok, GO_THRESHOLDS)).toEqual([]);
    expect(brokenThresholds({ ...ok, p95Ms: 1_000 }, GO_THRESHOLDS)).toEqual([
      'p95 latency 1000.0 ms is not below 1000 ms',
    ]);
    expect(brokenThresholds({ ...ok, errors: 10 }, GO_THRESHOLDS)).toEqual([
      'error rate 0.100 % is not below 0.1 %',
    ]);
    expect(brokenThresholds({ ...ok, requests: 0, errors: 0 }, GO_THRESHOLDS)).toContain(
      'no request completed',
    );
  });

  it('ramps up, holds and ramps down like the k6 scenario', () => {
    const plan = stages({
      url: '',
      connections: 1000,
      rampUpSeconds: 15,
      holdSeconds: 30,
      rampDownSeconds: 15,
      thresholds: GO_THRESHOLDS,
    });
    expect(plan.map(([connections]) => connections)).toEqual([
      200, 400, 600, 800, 1000, 1000, 800, 600, 400, 200,
    ]);
    expect(plan.reduce((total, [, seconds]) => total + seconds, 0)).toBe(60);
  });
});

describe('load test against a running server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true }),
      silentLogger,
    );
  });
  afterAll(() => server.close());

  it('sends the Go script request, which openssl reads as SHA-256 of "hello" with its nonce', async () => {
    const dir = tempDir();
    try {
      const text = await openssl([
        'ts',
        '-query',
        '-in',
        dir.write('hello.tsq', helloTimeStampReq()),
        '-text',
      ]);
      expect(text).toContain('0000 - 2c f2 4d ba 5f b0 a3 0e-26 e8 3b 2a c5 b9 e2 9e');
      expect(text).toContain('0010 - 1b 16 1e 5c 1f a7 42 5e-73 04 33 62 93 8b 98 24');
      expect(text).toContain('Nonce: 0x45EA49F1AAC25D41');
      expect(text).toContain('Certificate required: no');
    } finally {
      dir.cleanup();
    }
  });

  it('counts granted tokens and reports no error', async () => {
    const { summary, broken } = await runLoadTest({
      url: server.url,
      connections: 2,
      rampUpSeconds: 1,
      holdSeconds: 1,
      rampDownSeconds: 0,
      thresholds: { p95Ms: Number.POSITIVE_INFINITY, errorRate: GO_THRESHOLDS.errorRate },
    });
    expect(summary.requests).toBeGreaterThan(0);
    expect(summary.statusCounts).toEqual({ 200: summary.requests });
    expect(summary.errors).toBe(0);
    expect(broken).toEqual([]);
  });

  it('fails when the server is not there', async () => {
    await expect(
      runLoadTest({
        url: 'http://127.0.0.1:1',
        connections: 1,
        rampUpSeconds: 0,
        holdSeconds: 1,
        rampDownSeconds: 0,
        thresholds: GO_THRESHOLDS,
      }),
    ).rejects.toThrow();
  });
});
