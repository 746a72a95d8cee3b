import type { Registry } from 'prom-client';
import { LabelSets } from './label-sets.js';

interface Series {
  labels: Record<string, string>;
  sum: number;
  count: number;
}

/**
 * A Prometheus summary without quantiles: `_sum` and `_count` per label set. This is what the Go
 * server's SummaryVec exposes (client_golang has no default objectives), and unlike prom-client's
 * Summary it keeps no t-digest, so an observation costs an addition instead of ~1 µs.
 */
export class SumCountSummary<L extends string> {
  private readonly series: LabelSets<Series>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    registry: Registry,
  ) {
    this.series = new LabelSets(labelNames, (labels) => ({ labels, sum: 0, count: 0 }));
    registry.registerMetric(this as never);
  }

  /** The series of one label set, to observe into without a lookup each time. */
  labels(...values: string[]): { observe(value: number): void } {
    const target = this.series.get(values);
    return {
      observe: (value: number) => {
        target.sum += value;
        target.count += 1;
      },
    };
  }

  /** prom-client's collection interface. */
  get() {
    const values = this.series.all().flatMap(({ labels, sum, count }) => [
      { metricName: `${this.name}_sum`, labels, value: sum },
      { metricName: `${this.name}_count`, labels, value: count },
    ]);
    return { name: this.name, help: this.help, type: 'summary', values, aggregator: 'sum' };
  }

  /** Zeroes every series (registry.resetMetrics()); handles already given out stay bound to theirs. */
  reset(): void {
    for (const series of this.series.all()) {
      series.sum = 0;
      series.count = 0;
    }
  }
}
