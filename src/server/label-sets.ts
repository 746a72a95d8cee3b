/**
 * A metric's series, one per label set, keyed by the label values (in `labelNames` order); each is
 * made on first use. Our metrics hand out a handle bound to one series, so the hot path never
 * looks a label set up.
 */
export class LabelSets<Series> {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly create: (labels: Record<string, string>) => Series,
  ) {}

  get(values: readonly string[]): Series {
    const key = values.join('\u0000');
    let series = this.series.get(key);
    if (!series) {
      series = this.create(
        Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ''])),
      );
      this.series.set(key, series);
    }
    return series;
  }

  all(): Series[] {
    return [...this.series.values()];
  }
}
