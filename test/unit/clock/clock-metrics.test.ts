import { describe, expect, it } from 'vitest';
import '../../../src/clock/clock-metrics.js';
import { registry } from '../../../src/metrics/registry.js';
import { clusterMetricsSource } from '../../../src/runtime/cluster/cluster-metrics.js';

const MEASURED = [
  'timestamp_authority_ntp_offset_seconds',
  'timestamp_authority_time_source_root_dispersion_seconds',
  'timestamp_authority_clock_error_bound_seconds',
];

/** The value of a label-less series in a Prometheus text answer (prom-client writes NaN `Nan`). */
const valueIn = (text: string, name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];

describe('clock gauges before any measurement', () => {
  // 0 would claim a perfect clock: before the first round, with --disable-ntp-monitoring, and
  // (bound, root dispersion) with SNTP, nothing has measured it.
  it('read NaN, unknown, not 0', async () => {
    const text = await registry.metrics();
    for (const name of MEASURED) expect(valueIn(text, name), name).toMatch(/^nan$/i);
  });

  it('read NaN in a cluster primary\u2019s answer too (its own monitor\u2019s, no worker summed in)', async () => {
    const text = await clusterMetricsSource(() => []).metrics();
    for (const name of MEASURED) expect(valueIn(text, name), name).toMatch(/^nan$/i);
  });
});
