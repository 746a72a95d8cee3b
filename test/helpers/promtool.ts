import { spawnSync } from 'node:child_process';

/**
 * promtool's lint complaints we accept: the Go server's metric names (kept so dashboards work) and
 * prom-client's default Node metrics. Anything else fails the test.
 */
export const ACCEPTED_LINT = [
  'timestamp_authority_api_latency_summary metric name should not include type',
  'timestamp_authority_certificate_valid_days_remaining use base unit "seconds" instead of "days"',
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
];

/** `promtool check metrics` of an exposition: its exit status and the remarks not accepted. */
export function checkMetrics(text: string): { status: number | null; problems: string[] } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) throw result.error;
  const problems = `${result.stdout}${result.stderr}`
    .split('\n')
    .filter(Boolean)
    .filter((line) => !ACCEPTED_LINT.some((accepted) => line.startsWith(accepted)));
  return { status: result.status, problems };
}
