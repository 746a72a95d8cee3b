import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { describe, expect, it } from 'vitest';
import { recordTreeSize, watchLedger, watchLog } from '../../../src/ledger/ledger-metrics.js';
import { registry } from '../../../src/metrics/registry.js';
import { clusterMetricsSource } from '../../../src/runtime/cluster/cluster-metrics.js';
import type { MetricsJson } from '../../../src/runtime/cluster/messages.js';

const AVAILABLE = 'timestamp_authority_ledger_available';
const series = (text: string) => new RegExp(`^${AVAILABLE} (\\S+)$`, 'm').exec(text)?.[1];

/** A cluster worker answering every scrape with `metrics()`. */
function worker(id: number, metrics: () => Promise<MetricsJson>): Worker {
  const emitter = Object.assign(new EventEmitter(), {
    id,
    isConnected: () => true,
    send(message: { id: number }, callback?: (error: Error | null) => void) {
      callback?.(null);
      void metrics().then((answer) =>
        emitter.emit('message', { type: 'tsa:metrics', id: message.id, metrics: answer }),
      );
      return true;
    },
  });
  return emitter as unknown as Worker;
}

describe('timestamp_authority_ledger_available', () => {
  // In order: the gauge is registered once, by the first ledger of the process.
  it('is absent without a ledger, alone and summed over cluster workers', async () => {
    expect(series(await registry.metrics())).toBeUndefined();
    const answer = () => registry.getMetricsAsJSON() as Promise<MetricsJson>;
    const source = clusterMetricsSource(() => [worker(1, answer), worker(2, answer)]);
    const text = await source.metrics();
    expect(text).toContain('timestamp_authority_ledger_commits_total');
    expect(series(text)).toBeUndefined();
  });

  it('reads 1 while the ledger takes tokens, 0 while it refuses; a cluster reads the lowest', async () => {
    let available = false;
    watchLedger(() => available);
    expect(series(await registry.metrics())).toBe('0');
    available = true;
    watchLedger(() => available); // a second ledger of the process registers nothing twice
    expect(series(await registry.metrics())).toBe('1');
    const down = worker(2, async () => {
      const metrics = (await registry.getMetricsAsJSON()) as MetricsJson;
      return metrics.map((metric) =>
        metric.name === AVAILABLE
          ? { ...metric, values: metric.values.map((value) => ({ ...value, value: 0 })) }
          : metric,
      ) as MetricsJson;
    });
    const answer = () => registry.getMetricsAsJSON() as Promise<MetricsJson>;
    expect(series(await clusterMetricsSource(() => [worker(1, answer), down]).metrics())).toBe('0');
  });
});

describe("the transparency log's gauges", () => {
  it('are absent until a sequencer runs in the process, then read what it recorded', async () => {
    const TREE_SIZE = /^timestamp_authority_log_tree_size (\S+)$/m;
    const AGE = /^timestamp_authority_log_unintegrated_age_seconds (\S+)$/m;
    expect(await registry.metrics()).not.toMatch(TREE_SIZE);
    expect(await registry.metrics()).not.toMatch(AGE);
    watchLog();
    watchLog(); // registered once
    recordTreeSize(42);
    const text = await registry.metrics();
    expect(TREE_SIZE.exec(text)?.[1]).toBe('42');
    expect(AGE.exec(text)?.[1]).toBe('0');
  });
});
