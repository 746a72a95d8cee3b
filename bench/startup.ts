/**
 * Part 6: cold start, from spawning `timestamp-server serve` (memory signer, built dist/) to the
 * first 200 from /ping; median over runs. The cloud SDKs are imported lazily, so none loads here.
 *   npm run bench -- startup [--runs 5]
 */
import { startTimestampServer } from './processes.js';
import { format, median } from './stats.js';

export async function benchStartup(options: { runs?: number } = {}) {
  const times: number[] = [];
  for (let run = 0; run < (options.runs ?? 5); run++) {
    const started = performance.now();
    const server = await startTimestampServer();
    times.push(performance.now() - started);
    await server.stop();
  }
  console.log(
    `startup: first /ping 200 after ${format(median(times))} ms (median of ${times.length}; polled every 25 ms)`,
  );
  return median(times);
}
