import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { registry } from '../../../src/metrics/registry.js';
import { startServer } from '../../../src/runtime/serve.js';
import { AUDIT_QUEUE_FULL } from '../../../src/server/audit-log-file.js';
import { auditLinesDropped } from '../../../src/server/audit-log-metrics.js';
import { RETRY_AFTER_SECONDS } from '../../../src/server/http-outcome.js';
import { decodeResponse } from '../../helpers/decode.js';
import { watchUnhandledRejections } from '../../helpers/fault-tsa.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { getReadyz, postTimestampRequest } from '../../helpers/requests.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { manualDeadlines, stallingDisk } from '../../helpers/stalling-disk.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * A server whose audit log disk stalls (fdatasync held by the test), wired as `serve` wires it:
 * the queue fills to its bound, the audit guard refuses issuance (503, Retry-After) and /readyz
 * turns red, refused requests' lines are dropped and counted, a granted request waiting past its
 * deadline gets a 503 instead of its token; when the disk recovers, all of it ends by itself.
 */

const dir = tempDir();
afterAll(() => dir.cleanup());
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));

async function droppedLines(): Promise<number> {
  return (await auditLinesDropped.get()).values[0]?.value ?? 0;
}

async function queuedLines(): Promise<number> {
  const text = await registry.getSingleMetricAsString('timestamp_authority_audit_log_queued_lines');
  return Number(/^timestamp_authority_audit_log_queued_lines (\d+)$/m.exec(text)?.[1]);
}

describe('a server whose audit log disk stalls', () => {
  it('refuses issuance at its queue bound (503, /readyz red), drops refused lines, refuses a granted request past its deadline, and recovers with the disk', async () => {
    const path = dir.path('stall.jsonl');
    const disk = stallingDisk();
    const deadlines = manualDeadlines();
    const server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true, auditLog: path }),
      silentLogger,
      {
        openAuditFile: disk.opener,
        auditLog: { limits: { lines: 2, bytes: 1 << 20 }, lineDeadline: deadlines.arm },
      },
    );
    const post = (body: Buffer, contentType?: string) =>
      postTimestampRequest(server.url, body, contentType);
    const readyz = () => getReadyz(server.url);
    try {
      expect((await post(grantableRequest())).status).toBe(200);

      disk.stall();
      const a = post(grantableRequest());
      await disk.syncStarted();
      const b = post(grantableRequest());
      // A's line is being written, B's waits behind it (its deadline armed): the queue is full.
      await waitUntil(() => deadlines.pending() === 2, 10);
      expect(await queuedLines()).toBe(2);
      expect(await readyz()).toEqual({ status: 503, text: AUDIT_QUEUE_FULL });

      // Refused before signing: temporary, so 503 with Retry-After; a DER client gets systemFailure.
      const dropped = await droppedLines();
      const refused = await post(grantableRequest());
      expect(refused.status).toBe(503);
      expect(refused.retryAfter).toBe(String(RETRY_AFTER_SECONDS));
      expect(decodeResponse(refused.body)).toMatchObject({
        status: 2,
        failInfo: ['systemFailure'],
        statusStrings: [expect.any(String), AUDIT_QUEUE_FULL],
      });
      // Bad input is still answered at once; no line of these refusals is queued.
      expect((await post(Buffer.from('not a request'))).status).toBe(200);
      expect((await post(Buffer.from('x'), 'text/plain')).status).toBe(415);
      // The 415's line comes from a hook after its answer: wait until all three are either
      // dropped or (the failure this guards against) queued.
      const settled = async () => (await droppedLines()) - dropped + (await queuedLines()) - 2;
      await waitUntil(async () => (await settled()) >= 3, 10);
      expect(await droppedLines()).toBe(dropped + 3);
      expect(await queuedLines()).toBe(2);

      // B's deadline (the third armed: the first request's, A's, B's) passes: its token is
      // withheld, a temporary refusal instead.
      deadlines.pass(2);
      const late = await b;
      expect(late.status).toBe(503);
      expect(decodeResponse(late.body)).toMatchObject({
        failInfo: ['systemFailure'],
        statusStrings: [
          expect.any(String),
          'the audit log line was not on disk within 15000 ms: token withheld',
        ],
      });

      disk.recover();
      expect((await a).status).toBe(200);
      await waitUntil(async () => (await readyz()).status === 200, 10);
      expect((await post(grantableRequest())).status).toBe(200);
    } finally {
      disk.recover();
      await server.close();
    }
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line['status'], line['httpStatus']])).toEqual([
      ['granted', 200],
      ['granted', 200], // A
      ['granted', 200], // B's line, written once the disk recovered: its token was not sent...
      ['rejection', 503], // ...as its rejection's line says
      ['granted', 200],
    ]);
    expect(lines[3]?.['withheldSerialNumber']).toBe(lines[2]?.['serialNumber']);
  });
});
