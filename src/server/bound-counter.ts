import type { Registry } from 'prom-client';
import { LabelSets } from './label-sets.js';

interface Series {
  labels: Record<string, string>;
  value: number;
}

/**
 * A Prometheus counter exposed exactly as prom-client's Counter (same text, same JSON for the
 * cluster aggregator), incremented through a handle bound to its label set: an increment is an
 * addition, where prom-client's hashes and checks the label object every time (~0.35 µs; two
 * counters per request).
 */
export class BoundCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series: LabelSets<Series>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    registry: Registry,
  ) {
    this.series = new LabelSets(labelNames, (labels) => ({ labels, value: 0 }));
    registry.registerMetric(this as never);
  }

  /** The handle of one label set (values in `labelNames` order). */
  labels(...values: string[]): { inc(): void } {
    const target = this.series.get(values);
    return {
      inc: () => {
        target.value += 1;
      },
    };
  }

  /** prom-client's collection interface: as prom-client, a label set shows once incremented. */
  get() {
    const values = this.series
      .all()
      .filter((series) => series.value > 0)
      .map(({ labels, value }) => ({ value, labels }));
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /** Zeroes every series (registry.resetMetrics()); handles already given out stay bound to theirs. */
  reset(): void {
    for (const series of this.series.all()) series.value = 0;
  }
}
