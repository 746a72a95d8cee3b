/**
 * Part 3: /ping latency while issuance with a slow key (P-384, file signer) saturates the server,
 * to show the event loop is not blocked by signing.
 *   npm run bench -- ping [--seconds 10] [--connections 50] [--key p384]
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './http.js';
import { writeFileSignerFiles, type KeyKind } from './keys.js';
import { startTimestampServer } from './processes.js';
import { format } from './stats.js';

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
      autocannon({ url: `${server.url}/ping`, connections: 1, duration: seconds }),
    ]);
    console.log(
      `ping under ${key} load: issuance ${format(issuance.requestsPerSecond)} req/s (p99 ${format(issuance.p99, 1)} ms);` +
        ` /ping p50 ${format(ping.latency.p50, 1)} ms  p99 ${format(ping.latency.p99, 1)} ms  max ${format(ping.latency.max, 1)} ms`,
    );
    return { issuance, pingP99: ping.latency.p99 };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
