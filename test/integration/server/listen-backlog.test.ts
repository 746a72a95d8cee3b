/**
 * The listeners' backlog is the kernel's somaxconn, as Go's net package sets it, not Node's 511:
 * a burst of new connections past 511 would have SYNs dropped and retried only after 1 s.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { silentLogger } from '../../helpers/tsa.js';

/** A listening socket's backlog: `ss` shows it as its Send-Q. */
function backlogOf(port: string): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}

describe('the listen backlog', () => {
  it("is the kernel's somaxconn on the timestamp listener", async () => {
    const server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true }),
      silentLogger,
    );
    try {
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      expect(backlogOf(new URL(server.url).port)).toBe(somaxconn);
    } finally {
      await server.close();
    }
  });
});
