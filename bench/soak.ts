/**
 * Part 4: a soak of many requests (one million by default) with the server's RSS sampled before,
 * during and after; the heap comes from the server's own metrics when its /metrics is reachable.
 *   npm run bench -- soak [--requests 1000000] [--connections 50]
 */
import autocannon from 'autocannon';
import { LOAD_TEST_REQUEST } from './http.js';
import { startTimestampServer } from './processes.js';
import { format } from './stats.js';

const MB = 1024 * 1024;

export async function benchSoak(
  options: { requests?: number; connections?: number; warmUp?: number } = {},
) {
  const requests = options.requests ?? 1_000_000;
  const server = await startTimestampServer();
  try {
    const load = (amount: number) =>
      autocannon({
        url: `${server.url}/api/v1/timestamp`,
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: LOAD_TEST_REQUEST,
        connections: options.connections ?? 50,
        amount,
      });
    // Warm up first so the baseline includes JIT code and pools, then sample.
    await load(options.warmUp ?? 50_000);
    const before = server.rss();
    const samples: number[] = [];
    const timer = setInterval(() => samples.push(server.rss()), 1000);
    const result = await load(requests);
    clearInterval(timer);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = server.rss();
    const peak = Math.max(before, ...samples);
    const growth = (after - before) / before;
    console.log(
      `soak: ${format(result.requests.total)} requests, ${format(result.requests.average)} req/s, errors ${result.errors + result.non2xx};` +
        ` RSS before ${format(before / MB, 1)} MB, peak ${format(peak / MB, 1)} MB, after ${format(after / MB, 1)} MB (growth ${format(growth * 100, 1)} %)`,
    );
    return { before, peak, after, growth, errors: result.errors + result.non2xx };
  } finally {
    await server.stop();
  }
}
