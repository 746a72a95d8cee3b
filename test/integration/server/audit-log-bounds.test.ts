import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { AUDIT_QUEUE_FULL, AuditLog } from '../../../src/server/audit-log-file.js';
import { openProcessAuditLog, type ProcessAuditLog } from '../../../src/server/audit-log.js';
import { auditLinesDropped, auditTokensWithheld } from '../../../src/server/audit-log-metrics.js';
import { DROP_WARN_INTERVAL_MS, lineWaitMs } from '../../../src/server/audit-overflow.js';
import { auditLogTestFiles, auditRecords } from '../../helpers/audit-file.js';
import { waitUntil } from '../../helpers/poll.js';
import { manualDeadlines, stallingDisk } from '../../helpers/stalling-disk.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * The audit log's queue while the disk stalls (an fdatasync that does not return, held by the
 * test): bounded in lines and bytes, granted lines refused beyond it or past their deadline,
 * refused requests' lines dropped and counted. Every wait is on an event the test causes.
 */

const { newPath, cleanups } = auditLogTestFiles('bounds');

async function droppedLines(): Promise<number> {
  return (await auditLinesDropped.get()).values[0]?.value ?? 0;
}

async function withheldTokens(reason: string): Promise<number> {
  const { values } = await auditTokensWithheld.get();
  return values.find((value) => value.labels.reason === reason)?.value ?? 0;
}

describe('AuditLog queue bounds', () => {
  it('takes no line beyond its bound in lines while the disk stalls, and every line again once it recovers', async () => {
    const path = newPath();
    const disk = stallingDisk();
    const log = await AuditLog.open(path, disk.opener, { lines: 3, bytes: 1 << 20 });
    cleanups.push(() => log.close());
    cleanups.push(() => disk.recover());
    disk.stall();
    const first = log.append({ n: 1 });
    await disk.syncStarted();
    const queued = [log.append({ n: 2 }), log.append({ n: 3 })];
    expect(log.queued.lines).toBe(3);
    expect(log.full).toBe(true);
    const bytes = log.queued.bytes;

    // Refused at once, as a temporary refusal; nothing more is queued however many come.
    await expect(log.append({ n: 4 })).rejects.toMatchObject({
      failInfo: 'systemFailure',
      temporary: true,
      detail: AUDIT_QUEUE_FULL,
    });
    for (let i = 0; i < 1_000; i++) expect(log.enqueue({ n: 5 })).toBeUndefined();
    expect(log.queued).toEqual({ lines: 3, bytes });

    disk.recover();
    await Promise.all([first, ...queued]);
    expect(log.queued).toEqual({ lines: 0, bytes: 0 });
    expect(log.full).toBe(false);
    await log.append({ n: 6 });
    expect(auditRecords(path)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 6 }]);
  });

  it('takes no line beyond its bound in bytes, except one queued beyond it on purpose', async () => {
    const path = newPath();
    const disk = stallingDisk();
    const record = (n: number) => ({ n, pad: 'x'.repeat(1_000) });
    const lineBytes = Buffer.byteLength(`${JSON.stringify(record(1))}\n`);
    const log = await AuditLog.open(path, disk.opener, { lines: 100, bytes: 2 * lineBytes });
    cleanups.push(() => log.close());
    cleanups.push(() => disk.recover());
    disk.stall();
    const first = log.append(record(1));
    await disk.syncStarted();
    const second = log.append(record(2));
    expect(log.queued).toEqual({ lines: 2, bytes: 2 * lineBytes });
    expect(log.enqueue(record(3))).toBeUndefined();
    // A withheld token's line: its caller bounds those (one per granted line queued).
    const beyond = log.enqueue(record(4), true);
    expect(beyond).toBeInstanceOf(Promise);
    expect(log.queued.lines).toBe(3);

    disk.recover();
    await Promise.all([first, second, beyond]);
    expect(auditRecords(path).map((line) => line['n'])).toEqual([1, 2, 4]);
  });
});

describe('the process audit log while the disk stalls', () => {
  async function open(options: { lines: number; logger?: FastifyBaseLogger }) {
    const path = newPath();
    const disk = stallingDisk();
    const deadlines = manualDeadlines();
    const clock = { now: 0 };
    const processLog = (await openProcessAuditLog(
      resolveServeConfig({ auditLog: path }),
      options.logger ?? silentLogger,
      {
        openFile: disk.opener,
        lineDeadline: deadlines.arm,
        limits: { lines: options.lines, bytes: 1 << 20 },
        now: () => clock.now,
      },
    )) as ProcessAuditLog;
    cleanups.push(() => processLog[Symbol.asyncDispose]());
    cleanups.push(() => disk.recover());
    return { path, disk, deadlines, clock, processLog };
  }

  it('refuses a granted token whose line misses its deadline (temporary); the line stays queued and is written later', async () => {
    const { path, disk, deadlines, processLog } = await open({ lines: 10 });
    const before = await withheldTokens('deadline');
    disk.stall();
    const line = processLog.appendGranted({ n: 1, status: 'granted' });
    await disk.syncStarted();
    deadlines.pass(0);
    await expect(line).rejects.toMatchObject({
      failInfo: 'systemFailure',
      temporary: true,
      // Half of the default --write-timeout (30 s).
      detail: `the audit log line was not on disk within ${lineWaitMs(30_000)} ms: token withheld`,
    });
    expect(lineWaitMs(30_000)).toBe(15_000);
    expect(await withheldTokens('deadline')).toBe(before + 1);
    expect(processLog.log.queued.lines).toBe(1);

    disk.recover();
    await processLog.log.append({ n: 2 });
    // "Granted" for a token never sent: the rejection's line (withheldSerialNumber) says so.
    expect(auditRecords(path)).toEqual([{ n: 1, status: 'granted' }, { n: 2 }]);
    expect(deadlines.pending()).toBe(0);
  });

  it('refuses issuance while the queue is full and drops the lines of refused requests: counted, one WARN per interval', async () => {
    const warnings: { fields: unknown; message: string }[] = [];
    const logger = {
      ...silentLogger,
      warn: (fields: unknown, message: string) => warnings.push({ fields, message }),
    } as unknown as FastifyBaseLogger;
    const { path, disk, clock, processLog } = await open({ lines: 2, logger });
    const requestLog = silentLogger;
    expect(processLog.guard()).toBeUndefined();
    disk.stall();
    const first = processLog.appendGranted({ n: 1 });
    await disk.syncStarted();
    processLog.appendInBackground({ n: 2 }, requestLog);
    expect(processLog.log.queued.lines).toBe(2);
    expect(processLog.guard()).toMatchObject({
      failInfo: 'systemFailure',
      temporary: true,
      detail: AUDIT_QUEUE_FULL,
    });
    // A granted line is not taken either: its token is withheld (queue_full).
    const withheld = await withheldTokens('queue_full');
    expect(processLog.appendGranted({ n: 'granted beyond' })).toBeUndefined();
    expect(await withheldTokens('queue_full')).toBe(withheld + 1);

    const dropped = await droppedLines();
    for (let i = 0; i < 100; i++) processLog.appendInBackground({ n: 'dropped' }, requestLog);
    expect(processLog.log.queued.lines).toBe(2);
    expect(await droppedLines()).toBe(dropped + 100);
    expect(warnings).toEqual([
      {
        fields: { path, lines: 1 },
        message:
          'audit log queue full (the disk does not keep up): 1 lines of refused requests dropped',
      },
    ]);
    clock.now = DROP_WARN_INTERVAL_MS;
    processLog.appendInBackground({ n: 'dropped' }, requestLog);
    expect(warnings[1]?.fields).toEqual({ path, lines: 100 });

    // The line of a token withheld after its own line was queued is never dropped.
    processLog.appendInBackground({ n: 'withheld' }, requestLog, true);
    expect(processLog.log.queued.lines).toBe(3);

    disk.recover();
    await first;
    await waitUntil(() => processLog.log.queued.lines === 0, 5);
    expect(processLog.guard()).toBeUndefined();
    expect(auditRecords(path)).toEqual([{ n: 1 }, { n: 2 }, { n: 'withheld' }]);
  });
});
