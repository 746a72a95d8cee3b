/**
 * prom-client as the oracle of our own metric classes (BucketHistogram, BoundCounter): what its
 * registry reports, in the two forms the server serves it.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';

/** The registry's JSON without the `exemplar: null` that prom-client adds (exemplars are off). */
export async function jsonWithoutExemplars(registry: Registry): Promise<unknown> {
  return JSON.parse(
    JSON.stringify(await registry.getMetricsAsJSON(), (key, value: unknown) =>
      key === 'exemplar' ? undefined : value,
    ),
  ) as unknown;
}

/** The text the cluster primary serves when two workers report what `registry` holds. */
export async function aggregatedOfTwoWorkers(registry: Registry): Promise<string> {
  return AggregatorRegistry.aggregate([
    await registry.getMetricsAsJSON(),
    await registry.getMetricsAsJSON(),
  ]).metrics();
}
