/**
 * Part 3: /ping latency while issuance with a slow key (P-384, file signer) saturates the server,
 * to show the event loop is not blocked by signing.
 *   npm run bench -- ping [--seconds 10] [--connections 50] [--key p384]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, timedAutocannon } from './http.js';
import { writeFileSignerFiles, type KeyKind } from './keys.js';
import { startTimestampServer } from './processes.js';
import { format, percentile } from './stats.js';

export async function benchPingUnderLoad(
  options: { seconds?: number; connections?: number; key?: KeyKind } = {},
) {
  const seconds = options.seconds ?? 10;
  const key = options.key ?? 'p384';
  const dir = mkdtempSync(join(tmpdir(), 'tsa-bench-'));
  const server = await startTimestampServer(await writeFileSignerFiles(key, dir));
  try {
    const [issuance, ping] = await Promise.all([
      load(server.url, seconds, options.connections ?? 50),
      timedAutocannon({ url: `${server.url}/ping`, connections: 1, duration: seconds }),
    ]);
    const pingP99 = percentile(ping.sorted, 99);
    console.log(
      `ping under ${key} load: issuance ${format(issuance.requestsPerSecond)} req/s (p99 ${format(issuance.p99, 2)} ms);` +
        ` /ping p50 ${format(percentile(ping.sorted, 50), 2)} ms  p99 ${format(pingP99, 2)} ms  max ${format(ping.sorted.at(-1) ?? NaN, 2)} ms`,
    );
    return { issuance, pingP99 };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
