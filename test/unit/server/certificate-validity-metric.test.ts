import { AggregatorRegistry } from 'prom-client';
import { expect, it } from 'vitest';
import { registry } from '../../../src/metrics/registry.js';
import { trackCertificateValidity } from '../../../src/server/certificate-validity-metric.js';

const NAME = 'timestamp_authority_certificate_chain_valid';

it('is absent until there is a chain to check, so a starting cluster worker adds no 0 to the min', async () => {
  // What a worker still loading its key answers a scrape with, beside one serving.
  const starting = await registry.getMetricsAsJSON();
  expect(starting.some((metric) => metric.name === NAME)).toBe(false);
  trackCertificateValidity(() => true);
  const serving = await registry.getMetricsAsJSON();
  const merged = await AggregatorRegistry.aggregate([starting, serving]).getSingleMetricAsString(
    NAME,
  );
  expect(merged.trim().split('\n').pop()).toBe(`${NAME} 1`);

  trackCertificateValidity(() => false);
  expect((await registry.getSingleMetricAsString(NAME)).trim().split('\n').pop()).toBe(`${NAME} 0`);
});
