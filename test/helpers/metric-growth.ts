/**
 * A counter's samples by their `code` label (summed over the other labels), read from the
 * Prometheus endpoint `metricsUrl`: timestamp_authority_http_unparsed_requests_total by default.
 */
export async function countsByCode(
  metricsUrl: string,
  metric = 'timestamp_authority_http_unparsed_requests_total',
): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const counts: Record<string, number> = {};
  for (const [, code, value] of text.matchAll(
    new RegExp(`^${metric}\\{code="(\\d+)"[^}]*\\} (\\d+)$`, 'gm'),
  ))
    counts[code!] = (counts[code!] ?? 0) + Number(value);
  return counts;
}

/**
 * How much each code of `metric` (countsByCode) has grown since now: the registry is the
 * process's, shared by every server a test file starts.
 */
export async function growthFromNow(metricsUrl: string, metric?: string) {
  const before = await countsByCode(metricsUrl, metric);
  return async () =>
    Object.fromEntries(
      Object.entries(await countsByCode(metricsUrl, metric))
        .map(([code, value]) => [code, value - (before[code] ?? 0)] as const)
        .filter(([, growth]) => growth > 0),
    );
}
