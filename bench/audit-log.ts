/**
 * Part 7: cost of --audit-log: granted tokens per second in-process (Fastify inject, memory signer,
 * P-256), without and with the audit log, at several concurrencies. Runs alternate (without,
 * with, without, with...) and the best of each is kept, to damp a shared machine's noise.
 *   npm run bench -- audit [--seconds 3] [--repeats 3] [--dir /var/tmp]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { grantableRequest } from '../test/helpers/seeds.js';
import { createTestServer } from '../test/helpers/tsa.js';

async function measure(
  auditLog: string,
  concurrency: number,
  seconds: number,
  body: Uint8Array,
): Promise<number> {
  const { app } = await createTestServer({ auditLog });
  const deadline = Date.now() + seconds * 1000;
  let granted = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: body,
      });
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
      granted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await app.close();
  return granted / seconds;
}

export async function benchAuditLog(
  options: { seconds?: number; repeats?: number; dir?: string } = {},
) {
  const seconds = options.seconds ?? 3;
  const repeats = options.repeats ?? 3;
  // The disk matters: /var/tmp is usually a real disk where /tmp may be memory.
  const dir = mkdtempSync(join(options.dir ?? '/var/tmp', 'audit-bench-'));
  const body = grantableRequest();
  try {
    await measure('', 8, seconds, body); // warm-up
    for (const concurrency of [1, 16, 64]) {
      let without = 0;
      let withLog = 0;
      for (let i = 0; i < repeats; i++) {
        without = Math.max(without, await measure('', concurrency, seconds, body));
        withLog = Math.max(
          withLog,
          await measure(join(dir, `audit-${concurrency}.jsonl`), concurrency, seconds, body),
        );
      }
      console.log(
        `audit log concurrency ${String(concurrency).padStart(2)}: ${without.toFixed(0)} tokens/s without, ${withLog.toFixed(0)} with --audit-log (${((withLog / without) * 100).toFixed(0)}%)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
