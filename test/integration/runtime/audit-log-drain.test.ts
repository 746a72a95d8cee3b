import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { OpenAuditFile } from '../../../src/server/audit-log-file.js';
import type { AuditRecord } from '../../../src/server/audit-record.js';
import { startServer } from '../../../src/runtime/serve.js';
import { openAuditFileWith } from '../../helpers/audit-file.js';
import { tempDir } from '../../helpers/openssl.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { listenerClosed } from '../../helpers/split-request.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * The audit log closes after the drain (runtime/serve.ts's teardown order): a request in flight at
 * SIGTERM whose line is still on its way to the disk is answered, and its `granted` line is there.
 * Closed first, the log would hold the drain for its grace, then abandon the line and the token.
 */

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('the audit log at shutdown', () => {
  it('outlives the drain: the request whose fdatasync is held is answered 200 and recorded granted', async () => {
    const path = dir.path('drain.jsonl');
    // A disk that holds the fdatasync of the request's line until the test lets it go.
    let holding = false;
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let syncing = (): void => undefined;
    const syncStarted = new Promise<void>((resolve) => (syncing = resolve));
    const opener: OpenAuditFile = (file) =>
      openAuditFileWith(file, (real) => ({
        datasync: async () => {
          if (holding) {
            syncing();
            await held;
          }
          return real.datasync();
        },
      }));
    const server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true, auditLog: path }),
      silentLogger,
      { openAuditFile: opener },
    );
    let closing: Promise<void> | undefined;
    try {
      holding = true;
      const answer = fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: grantableRequest(),
      }).then(async (response) => ({
        status: response.status,
        body: Buffer.from(await response.arrayBuffer()),
      }));
      await syncStarted;
      // SIGTERM's drain: the listener stops accepting while the request waits for its line.
      closing = server.close();
      await listenerClosed(server.url);
      release();
      expect((await answer).status).toBe(200);
      await closing;
      const lines = readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditRecord);
      expect(lines.map((line) => [line.status, line.httpStatus])).toEqual([['granted', 200]]);
    } finally {
      release();
      await (closing ?? server.close());
    }
  });
});
