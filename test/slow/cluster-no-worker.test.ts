import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/openssl.js';
import { waitUntil } from '../helpers/poll.js';
import { spawnServer } from '../helpers/spawn-server.js';

/**
 * A cluster whose workers all die, and whose replacements cannot start (the --audit-log folder is
 * gone), closes its port while the primary lives on and answers /metrics. It says so in
 * timestamp_authority_cluster_workers_serving, and after a minute with no worker serving the
 * primary exits 1, for its restart policy to start the server again. In the slow tier: that minute
 * is real.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The value of an unlabelled sample in a Prometheus text answer. */
const sample = (text: string, name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];

describe('a cluster with no worker serving', () => {
  it('reports it, then exits 1 after a minute', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = await spawnServer(['--workers', '2', '--audit-log', dir.path('audit.jsonl')]);
    cleanups.push(() => server.stop());
    const serving = async () =>
      sample(
        await (await fetch(server.metricsUrl)).text(),
        'timestamp_authority_cluster_workers_serving',
      );
    expect(await serving()).toBe('2');

    rmSync(dir.path(''), { recursive: true, force: true });
    const workerPids = () =>
      new Set(
        server.lines
          .map((line) => JSON.parse(line) as { worker?: number; pid?: number })
          .flatMap((line) => (line.worker && line.pid ? [line.pid] : [])),
      );
    // The primary's "serving" line may be read before a worker's first (each process's log
    // writer flushes on its own).
    await waitUntil(() => workerPids().size === 2);
    const workers = workerPids();
    for (const pid of workers) process.kill(pid, 'SIGKILL');
    await waitUntil(async () => (await serving()) === '0');

    expect(await server.exited).toBe(1);
    const messages = server.lines.map((line) => (JSON.parse(line) as { message?: string }).message);
    expect(messages).toContain(
      'cannot serve: no worker has served for 60 s: the last one exited, and no replacement has served since; draining, then exiting with 1',
    );
    expect(messages).toContain('shut down');
  });
});
