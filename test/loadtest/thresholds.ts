/** Go's k6 thresholds: http_req_duration p(95) < 1000 ms, errors rate < 0.1 %. */
export interface Thresholds {
  p95Ms: number;
  errorRate: number;
}

export const GO_THRESHOLDS: Thresholds = { p95Ms: 1_000, errorRate: 0.001 };

export interface LoadSummary {
  requests: number;
  errors: number;
  p95Ms: number;
  statusCounts: Record<string, number>;
}

/** The p-th percentile (nearest rank) of latencies in milliseconds. */
export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sortedMs.length);
  return sortedMs[Math.min(sortedMs.length, Math.max(rank, 1)) - 1] ?? 0;
}

/** The thresholds a run broke, as sentences; empty when it passed. */
export function brokenThresholds(summary: LoadSummary, thresholds: Thresholds): string[] {
  const broken: string[] = [];
  if (summary.requests === 0) broken.push('no request completed');
  if (summary.p95Ms >= thresholds.p95Ms) {
    broken.push(`p95 latency ${summary.p95Ms.toFixed(1)} ms is not below ${thresholds.p95Ms} ms`);
  }
  const rate = summary.requests === 0 ? 1 : summary.errors / summary.requests;
  if (rate >= thresholds.errorRate) {
    broken.push(
      `error rate ${(rate * 100).toFixed(3)} % is not below ${thresholds.errorRate * 100} %`,
    );
  }
  return broken;
}
