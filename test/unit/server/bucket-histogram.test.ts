/**
 * BucketHistogram must read exactly as prom-client's Histogram, which is the oracle here: the same
 * observations into both give the same text exposition and the same JSON (what the cluster
 * aggregator sums).
 */
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from '../../../src/server/bucket-histogram.js';
import { aggregatedOfTwoWorkers, jsonWithoutExemplars } from '../../helpers/prom-oracle.js';

const BUCKETS = [0.005, 0.01, 0.5, 1, 4];
/** Below, on and between bounds, above every bound, zero and a negative value. */
const OBSERVATIONS: [string, string, number][] = [
  ['/ping', '200', 0.001],
  ['/ping', '200', 0.005],
  ['/ping', '200', 0.0051],
  ['/api/v1/timestamp', '200', 0.7],
  ['/api/v1/timestamp', '200', 1],
  ['/api/v1/timestamp', '500', 12],
  ['/api/v1/timestamp', '500', 0],
  ['/api/v1/timestamp', '400', -1],
];

function both() {
  const ours = new Registry();
  const theirs = new Registry();
  const histogram = new BucketHistogram('latency', 'help text', ['path', 'code'], BUCKETS, ours);
  const reference = new Histogram({
    name: 'latency',
    help: 'help text',
    labelNames: ['path', 'code'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  for (const [path, code, value] of OBSERVATIONS) {
    histogram.labels(path, code).observe(value);
    reference.observe({ path, code }, value);
  }
  return { ours, theirs, histogram };
}

describe('BucketHistogram', () => {
  it('exposes the same text as prom-client', async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('latency_bucket{le="0.005",path="/ping",code="200"} 2');
    expect(text).toContain('latency_bucket{le="+Inf",path="/api/v1/timestamp",code="500"} 2');
  });

  it('gives the cluster aggregator the same JSON as prom-client', async () => {
    const { ours, theirs } = both();
    expect(await ours.getMetricsAsJSON()).toEqual(await jsonWithoutExemplars(theirs));
    expect(await aggregatedOfTwoWorkers(ours)).toBe(await aggregatedOfTwoWorkers(theirs));
  });

  it('a handle keeps observing into its series, also after reset(), which zeroes every series', async () => {
    const { ours, histogram } = both();
    const handle = histogram.labels('/ping', '200');
    handle.observe(2);
    expect(await ours.metrics()).toContain('latency_count{path="/ping",code="200"} 4');
    ours.resetMetrics();
    expect(await ours.metrics()).toContain('latency_count{path="/ping",code="200"} 0');
    expect(await ours.metrics()).toContain('latency_sum{path="/ping",code="200"} 0');
    handle.observe(0.007);
    const text = await ours.metrics();
    expect(text).toContain('latency_bucket{le="0.005",path="/ping",code="200"} 0');
    expect(text).toContain('latency_bucket{le="0.01",path="/ping",code="200"} 1');
    expect(text).toContain('latency_count{path="/ping",code="200"} 1');
  });

  it('ignores a value that is not a finite number (prom-client throws)', async () => {
    const { ours, histogram } = both();
    const handle = histogram.labels('/ping', '200');
    handle.observe(Number.NaN);
    handle.observe(Number.POSITIVE_INFINITY);
    const text = await ours.metrics();
    expect(text).toContain('latency_count{path="/ping",code="200"} 3');
    expect(text).toContain('latency_sum{path="/ping",code="200"} 0.0111');
  });
});
