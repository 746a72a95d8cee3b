import { readFileSync, unlinkSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { registry } from '../../../src/metrics/registry.js';
import { startServer } from '../../../src/runtime/serve.js';
import {
  AUDIT_PROBE_INTERVAL_MS,
  AuditLog,
  type ArmTimer,
  type OpenAuditFile,
} from '../../../src/server/audit-log-file.js';
import { AUDIT_LOG_FAILING } from '../../../src/server/audit-log.js';
import { auditLogFailures } from '../../../src/server/audit-log-metrics.js';
import { auditLogTestFiles, auditRecords, openAuditFileWith } from '../../helpers/audit-file.js';
import { decodeResponse } from '../../helpers/decode.js';
import { waitUntil } from '../../helpers/poll.js';
import { getReadyz, postTimestampRequest } from '../../helpers/requests.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { TokenEncoder } from '../../../src/tsp/token-encoder.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * The audit log's failing state: a write or fdatasync that fails (a full disk) makes the process
 * refuse issuance before signing (503, /readyz red) until a write succeeds again, the next
 * batch's or the probe's (its timer fired by the test, never by the clock).
 */

const { newPath, cleanups } = auditLogTestFiles('failing');

/**
 * A disk that is full (ENOSPC on every write and fdatasync) while the test says so, or fails
 * with another code (`fail('EIO')`).
 */
function fullDisk() {
  let failure: string | undefined;
  const failed = (call: string) =>
    Object.assign(new Error(`${failure}: the disk fails, ${call}`), { code: failure });
  const opener: OpenAuditFile = (path) =>
    openAuditFileWith(path, (real) => ({
      appendFile: async (data) => {
        if (failure) throw failed('write');
        return real.appendFile(data);
      },
      datasync: async () => {
        if (failure) throw failed('fdatasync');
        return real.datasync();
      },
    }));
  return {
    opener,
    fill: () => void (failure = 'ENOSPC'),
    fail: (code: string) => void (failure = code),
    free: () => void (failure = undefined),
  };
}

/** The probe's timers: armed by the log, fired by the test. */
function manualProbes() {
  const armed: { fire: () => void; disarmed: boolean }[] = [];
  const arm: ArmTimer = (fire) => {
    const timer = { fire, disarmed: false };
    armed.push(timer);
    return () => void (timer.disarmed = true);
  };
  return {
    arm,
    /** Timers armed and neither fired nor disarmed. */
    pending: () => armed.filter((timer) => !timer.disarmed).length,
    /** Fires the last timer armed (it must be pending). */
    fire(): void {
      const timer = armed.at(-1);
      if (!timer || timer.disarmed) throw new Error('no probe timer is armed');
      timer.disarmed = true;
      timer.fire();
    },
  };
}

async function failures(): Promise<number> {
  return (await auditLogFailures.get()).values[0]?.value ?? 0;
}

describe('AuditLog while its disk fails', () => {
  it('fails from the first failed round until a probe or a round succeeds, telling each change once', async () => {
    const path = newPath();
    const disk = fullDisk();
    const probes = manualProbes();
    const events: string[] = [];
    const log = await AuditLog.open(path, disk.opener, undefined, {
      failing: (error) => events.push(`failing ${(error as { code: string }).code}`),
      recovered: () => events.push('recovered'),
      probeTimer: probes.arm,
    });
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    expect(log.failing).toBeUndefined();

    disk.fill();
    await expect(log.append({ n: 2 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(log.failing).toBe('ENOSPC');
    await expect(log.append({ n: 3 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(events).toEqual(['failing ENOSPC']);
    expect(probes.pending()).toBe(1);

    // The probe tries the disk, still full: still failing, a new probe armed.
    probes.fire();
    await waitUntil(() => log.probes === 1, 5);
    expect(log.failing).toBe('ENOSPC');
    expect(probes.pending()).toBe(1);

    // Space again: the probe's write succeeds, and its bytes are cut off again.
    disk.free();
    probes.fire();
    await waitUntil(() => log.failing === undefined, 5);
    expect(events).toEqual(['failing ENOSPC', 'recovered']);
    expect(probes.pending()).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');

    // A batch is a probe too.
    disk.fill();
    await expect(log.append({ n: 4 })).rejects.toMatchObject({ code: 'ENOSPC' });
    disk.free();
    await log.append({ n: 5 });
    expect(log.failing).toBeUndefined();
    expect(events).toEqual(['failing ENOSPC', 'recovered', 'failing ENOSPC', 'recovered']);
    expect(probes.pending()).toBe(0);
    expect(auditRecords(path)).toEqual([{ n: 1 }, { n: 5 }]);
  });
});

describe("AuditLog's lines to keep (refusals')", () => {
  it('keeps them through failed rounds, writes them first once it recovers (by the probe or a batch), gives them up at close', async () => {
    const path = newPath();
    const disk = fullDisk();
    const probes = manualProbes();
    const log = await AuditLog.open(path, disk.opener, undefined, { probeTimer: probes.arm });
    disk.fill();
    const kept = log.enqueue({ refused: 1 }, false, true);
    await expect(log.append({ granted: 1 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(log.queued.lines).toBe(1);
    disk.free();
    probes.fire();
    await kept;
    await log.append({ granted: 2 });
    expect(auditRecords(path)).toEqual([{ refused: 1 }, { granted: 2 }]);

    // Found working again by a batch, not the probe: the kept line still goes first.
    disk.fill();
    const keptAgain = log.enqueue({ refused: 3 }, false, true);
    await expect(log.append({ granted: 3 })).rejects.toMatchObject({ code: 'ENOSPC' });
    // While failing, a batch fails unwritten, the kept line still kept.
    await expect(log.append({ granted: 4 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(log.queued.lines).toBe(1);
    disk.free();
    await log.append({ granted: 5 });
    await keptAgain;
    expect(auditRecords(path).slice(2)).toEqual([{ refused: 3 }, { granted: 5 }]);

    disk.fill();
    const lost = expect(log.enqueue({ refused: 2 }, false, true)).rejects.toMatchObject({
      code: 'AUDIT_LOG_CLOSED',
    });
    await waitUntil(() => log.failing === 'ENOSPC', 5);
    await log.close();
    await lost;
    expect(log.discarded).toBe(1);
  });
});

describe('AuditLog whose file is removed while it writes it', () => {
  it('refuses its lines from then on (the probe does not recover it) until reopened: SIGHUP creates it again', async () => {
    const path = newPath();
    const probes = manualProbes();
    const events: string[] = [];
    const log = await AuditLog.open(path, undefined, undefined, {
      failing: (error) => events.push(`failing ${(error as { code: string }).code}`),
      recovered: () => events.push('recovered'),
      probeTimer: probes.arm,
    });
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    unlinkSync(path);
    await expect(log.append({ n: 2 })).rejects.toMatchObject({
      code: 'AUDIT_LOG_REMOVED',
      message: expect.stringContaining(`the audit log ${path} was removed`) as unknown,
    });
    expect(log.failing).toBe('AUDIT_LOG_REMOVED');
    probes.fire();
    await waitUntil(() => log.probes === 1, 5);
    expect(log.failing).toBe('AUDIT_LOG_REMOVED');

    await log.reopen();
    await log.append({ n: 3 });
    expect(log.failing).toBeUndefined();
    expect(events).toEqual(['failing AUDIT_LOG_REMOVED', 'recovered']);
    expect(auditRecords(path)).toEqual([{ n: 3 }]);
  });

  it('withholds the lines of the round during which it was removed: they are in no file', async () => {
    const path = newPath();
    let removeDuringRound = false;
    const log = await AuditLog.open(path, (file) =>
      openAuditFileWith(file, (real) => ({
        datasync: async () => {
          if (removeDuringRound) unlinkSync(path);
          return real.datasync();
        },
      })),
    );
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    removeDuringRound = true;
    await expect(log.append({ n: 2 })).rejects.toMatchObject({ code: 'AUDIT_LOG_REMOVED' });
  });
});

describe('a server whose audit disk fails', () => {
  it('refuses issuance before signing (503, /readyz red) while failing, logs it once, and resumes by itself', async () => {
    const path = newPath();
    const disk = fullDisk();
    const probes = manualProbes();
    const logged: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const record =
      (level: string) =>
      (fields: Record<string, unknown>, message = '') => {
        if (typeof fields['path'] === 'string') logged.push({ level, message, fields });
      };
    const logger = {
      ...silentLogger,
      error: record('error'),
      warn: record('warn'),
      info: record('info'),
      child: () => logger,
    } as unknown as FastifyBaseLogger;
    // Every token is signed in encode().
    const signs = vi.spyOn(TokenEncoder.prototype, 'encode');
    cleanups.push(() => signs.mockRestore());
    const server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true, auditLog: path }),
      logger,
      { openAuditFile: disk.opener, auditLog: { probeTimer: probes.arm } },
    );
    cleanups.push(() => server.close());
    const post = () => postTimestampRequest(server.url, grantableRequest());
    const readyz = () => getReadyz(server.url);
    const failingGauge = async () =>
      /^timestamp_authority_audit_log_failing (\d+)$/m.exec(
        await registry.getSingleMetricAsString('timestamp_authority_audit_log_failing'),
      )?.[1];

    expect((await post()).status).toBe(200);
    expect(await failingGauge()).toBe('0');
    const failuresBefore = await failures();

    disk.fill();
    const reason = `${AUDIT_LOG_FAILING} (ENOSPC)`;
    // Signed before the failure was known: withheld, and the log fails from now on. The same
    // outage, the same answer as the requests after it: 503, Retry-After the probe's interval.
    /** The answer of the failing state: 503, Retry-After the probe's interval, the reason. */
    const expectFailingRefusal = (answer: Awaited<ReturnType<typeof post>>) => {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe(String(AUDIT_PROBE_INTERVAL_MS / 1000));
      expect(decodeResponse(answer.body)).toMatchObject({
        status: 2,
        failInfo: ['systemFailure'],
        statusStrings: [expect.any(String), reason],
      });
    };
    expectFailingRefusal(await post());
    expect(await failingGauge()).toBe('1');
    expect(await failures()).toBe(failuresBefore + 1);
    expect(await readyz()).toEqual({ status: 503, text: reason });

    const signed = signs.mock.calls.length;
    for (let i = 0; i < 20; i++) expectFailingRefusal(await post());
    // Nothing signed: no token (nor ledger row) any client lacks.
    expect(signs.mock.calls.length).toBe(signed);
    // The refused requests' lines fail too, and are not logged one by one.
    expect(logged.filter((entry) => entry.level !== 'info')).toEqual([
      {
        level: 'error',
        message: `${reason}: refusing issuance until a write succeeds`,
        fields: expect.objectContaining({ path, code: 'ENOSPC' }),
      },
    ]);

    // Another cause while failing: an ERROR of its own, but the same failure counted once.
    const queued = async () =>
      /^timestamp_authority_audit_log_queued_lines (\d+)$/m.exec(
        await registry.getSingleMetricAsString('timestamp_authority_audit_log_queued_lines'),
      )?.[1];
    // The refused requests' lines are kept for the disk's return (the withheld token's line and
    // the 20 after it), and tried no more meanwhile: none is in a round now.
    await waitUntil(async () => (await queued()) === '21', 5);
    disk.fail('EIO');
    await waitUntil(() => probes.pending() === 1, 5);
    probes.fire();
    await waitUntil(async () => (await readyz()).text === `${AUDIT_LOG_FAILING} (EIO)`, 5);
    expect(logged.at(-1)).toMatchObject({
      level: 'error',
      message: `${AUDIT_LOG_FAILING} (EIO): refusing issuance until a write succeeds`,
    });
    expect(await failures()).toBe(failuresBefore + 1);

    // The disk works again; the probe (no line needed) finds it, issuance resumes by itself.
    disk.free();
    await waitUntil(() => probes.pending() === 1, 5);
    probes.fire();
    await waitUntil(async () => (await readyz()).status === 200, 5);
    expect(await failingGauge()).toBe('0');
    expect(logged.at(-1)).toEqual({
      level: 'info',
      message: 'audit log written again: issuance resumes',
      fields: { path },
    });
    expect((await post()).status).toBe(200);
    expect(signs.mock.calls.length).toBe(signed + 1);
    await server.close();
    // The refusals' lines, kept while the disk failed, were written once it worked again: the
    // withheld token's first, naming its serial number.
    const records = auditRecords(path);
    expect(records.map((line) => [line['status'], line['httpStatus']])).toEqual([
      ['granted', 200],
      ...Array.from({ length: 21 }, () => ['rejection', 503]),
      ['granted', 200],
    ]);
    expect(records[1]?.['withheldSerialNumber']).toMatch(/^[0-9a-f]+$/);
    expect(records.filter((line) => 'withheldSerialNumber' in line)).toHaveLength(1);
  });
});
