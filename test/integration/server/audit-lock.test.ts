import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import {
  AUDIT_PROBE_INTERVAL_MS,
  AuditLog,
  type OpenAuditFile,
} from '../../../src/server/audit-log-file.js';
import { openProcessAuditLog, type ProcessAuditLog } from '../../../src/server/audit-log.js';
import {
  acquireAuditLock,
  LOCK_POLL_MS,
  LOCK_STALE_MS,
  lockWaitMs,
} from '../../../src/server/audit-lock.js';
import { auditLogTestFiles, openAuditFileWith } from '../../helpers/audit-file.js';
import { waitUntil } from '../../helpers/poll.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * One writer per audit log file: a lock file beside it (waited for, then refused; a stale one
 * taken over), and, should two writers share a file all the same, a check at each round that
 * never cuts bytes this process did not write. The lock's clock and sleeps are the test's.
 */

const { newPath, cleanups } = auditLogTestFiles('lock');

/** A wall clock that moves only when the lock sleeps; `onSleep` sees each sleep. */
function lockClock(onSleep: (slept: number) => unknown = () => undefined) {
  const clock = { now: Date.now(), slept: 0 };
  return {
    clock,
    options: {
      now: () => clock.now,
      sleep: async (ms: number) => {
        clock.now += ms;
        clock.slept++;
        await onSleep(clock.slept);
      },
      heartbeat: () => () => undefined,
    },
  };
}

/** A silent logger that keeps its WARN lines' messages. */
function warningsLogger(): { logger: FastifyBaseLogger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    ...silentLogger,
    warn: (_fields: unknown, message: string) => warnings.push(message),
  } as unknown as FastifyBaseLogger;
  return { logger, warnings };
}

async function openProcess(path: string, lock: object, logger: FastifyBaseLogger = silentLogger) {
  const processLog = (await openProcessAuditLog(resolveServeConfig({ auditLog: path }), logger, {
    lock,
  })) as ProcessAuditLog;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await processLog[Symbol.asyncDispose]();
  };
  cleanups.push(close);
  return { processLog, close };
}

describe('the audit log lock', () => {
  it('makes a second writer wait for the first, and refuses it past the wait, naming the lock and its holder', async () => {
    const path = newPath();
    const first = await openProcess(path, lockClock().options);
    const lockFile = `${path}.lock`;
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
    });

    // The first writer's heartbeat, on the test's clock: its lock stays fresh.
    const { clock, options } = lockClock(() => {
      const at = new Date(clock.now);
      utimesSync(lockFile, at, at);
    });
    const { logger, warnings } = warningsLogger();
    await expect(openProcess(path, options, logger)).rejects.toMatchObject({
      code: 'AUDIT_LOG_LOCKED',
      message: expect.stringContaining(
        `its lock ${lockFile} is held by pid ${process.pid} on ${hostname()}`,
      ),
    });
    // Said once, when the wait began.
    expect(warnings).toEqual([
      `waiting for the audit log lock ${lockFile}, held by pid ${process.pid} on ${hostname()} ` +
        `(started ${JSON.parse(readFileSync(lockFile, 'utf8')).startedAt}): another process writes ${path}`,
    ]);
    // It polled until the wait (--graceful-timeout's default, 15 s, is under the stale bound).
    expect(clock.slept).toBe(Math.ceil(lockWaitMs(15_000) / LOCK_POLL_MS));
    // The first writer's lock and lines are untouched.
    await first.processLog.log.append({ n: 1 });
    expect(existsSync(lockFile)).toBe(true);
    await first.close();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('opens the second writer once the first closes', async () => {
    const path = newPath();
    const first = await openProcess(path, lockClock().options);
    await first.processLog.log.append({ n: 1 });
    // The first closes while the second waits (its third look at the lock).
    const { clock, options } = lockClock((slept) => (slept === 3 ? first.close() : undefined));
    const second = await openProcess(path, options);
    expect(clock.slept).toBe(3);
    await second.processLog.log.append({ n: 2 });
    await second.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
  });

  it('takes over a stale lock (a writer that died elsewhere), with a WARN', async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: 1, hostname: 'elsewhere', startedAt: 'then', token: 'x' }),
    );
    const { clock, options } = lockClock();
    const old = new Date(clock.now - LOCK_STALE_MS - 1_000);
    utimesSync(lockFile, old, old);
    const { logger, warnings } = warningsLogger();
    const { processLog } = await openProcess(path, options, logger);
    // One sleep: the settle before reading the lock again (LOCK_SETTLE_MS).
    expect(clock.slept).toBe(1);
    expect(warnings).toEqual([
      `audit log lock ${lockFile} of pid 1 on elsewhere (started then) not refreshed for 31 s (a writer that died): taken over`,
    ]);
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid });
    await processLog.log.append({ n: 1 });
  });

  it("takes over at once a fresh lock naming this process's pid that it does not hold (a restarted container, pid 1 again)", async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: 'then', token: 'x' }),
    );
    const { clock, options } = lockClock();
    const touched = new Date(clock.now);
    utimesSync(lockFile, touched, touched);
    await openProcess(path, options);
    expect(clock.slept).toBe(1); // the settle
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).not.toMatchObject({ token: 'x' });
  });

  it('waits for a fresh lock of another host until it goes stale, then takes it over', async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    writeFileSync(lockFile, JSON.stringify({ pid: 1, hostname: 'elsewhere' }));
    const { clock, options } = lockClock();
    // Touched a little after the clock's start: no look falls on the bound itself.
    const touched = new Date(clock.now + 200);
    utimesSync(lockFile, touched, touched);
    await openProcess(path, options);
    // The polls, then the settle.
    expect(clock.slept).toBe(Math.ceil((LOCK_STALE_MS + 200) / LOCK_POLL_MS) + 1);
  });
});

describe('a stale lock that two writers take over', () => {
  const OTHER = { pid: 2, hostname: 'elsewhere-2', startedAt: 'now', token: 'other' };

  /** A stale lock of a writer that died on another host. */
  function staleLock(lockFile: string, now: number): void {
    writeFileSync(lockFile, JSON.stringify({ pid: 1, hostname: 'elsewhere', token: 'dead' }));
    const old = new Date(now - LOCK_STALE_MS - 1_000);
    utimesSync(lockFile, old, old);
  }

  /** The other writer's lock, renamed over whatever is there, as a takeover does, touched at `at`. */
  function otherTakesIt(lockFile: string, at: number): void {
    writeFileSync(`${lockFile}.other`, JSON.stringify(OTHER));
    renameSync(`${lockFile}.other`, lockFile);
    utimesSync(lockFile, new Date(at), new Date(at));
  }

  it('backs off when the other renames its lock over ours while ours settles, and leaves no file of its own', async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    // The other writer's rename falls in our settle (the first sleep); its heartbeat then keeps
    // its lock fresh at each of our looks.
    const { clock, options } = lockClock((slept) => {
      if (slept === 1) otherTakesIt(lockFile, clock.now);
      else utimesSync(lockFile, new Date(clock.now), new Date(clock.now));
    });
    staleLock(lockFile, clock.now);
    const { logger, warnings } = warningsLogger();
    await expect(openProcess(path, options, logger)).rejects.toMatchObject({
      code: 'AUDIT_LOG_LOCKED',
      message: expect.stringContaining('held by pid 2 on elsewhere-2'),
    });
    // Never said to have taken it over; the other's lock is untouched, no temporary file left.
    expect(warnings.filter((w) => w.includes('taken over'))).toEqual([]);
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toEqual(OTHER);
    expect(
      readdirSync(dirname(path)).filter((name) => name.startsWith(basename(lockFile))),
    ).toEqual([basename(lockFile)]);
    expect(existsSync(path)).toBe(false);
  });

  it("is not taken for a dead predecessor's lock by another writer of this process while it settles", async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    let second: Promise<unknown> | undefined;
    // A second writer of this process starts while the first settles: it finds a fresh lock
    // naming this pid, which is alive, and is refused (no wait) rather than take it over.
    const { clock, options } = lockClock((slept) => {
      if (slept === 1) {
        second = acquireAuditLock(path, { ...lockClock().options, waitMs: 0 });
        return second.catch(() => undefined);
      }
      return undefined;
    });
    staleLock(lockFile, clock.now);
    const first = await acquireAuditLock(path, { ...options, waitMs: 0 });
    cleanups.push(() => first.release());
    await expect(second).rejects.toMatchObject({
      code: 'AUDIT_LOG_LOCKED',
      message: expect.stringContaining(`held by pid ${process.pid} on ${hostname()}`),
    });
    await expect(first.assertHeld()).resolves.toBeUndefined();
  });

  it('stops writing once its lock is taken over later: AUDIT_LOG_SHARED at the next round, nothing appended', async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    const { clock, options } = lockClock();
    staleLock(lockFile, clock.now);
    const { processLog } = await openProcess(path, options);
    await processLog.log.append({ n: 1 });
    expect(processLog.guard()).toBeUndefined();
    // The other writer's settle ended before ours renamed (or it took a lock it found stale).
    otherTakesIt(lockFile, clock.now);
    await expect(processLog.log.append({ n: 2 })).rejects.toMatchObject({
      code: 'AUDIT_LOG_SHARED',
      message: expect.stringContaining(
        `the audit log lock ${lockFile} is no longer this process's: it is held by pid 2 on elsewhere-2`,
      ),
    });
    expect(processLog.log.failing).toBe('AUDIT_LOG_SHARED');
    expect(processLog.guard()).toMatchObject({
      temporary: true,
      retryInMs: AUDIT_PROBE_INTERVAL_MS,
    });
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');
    // It stays lost: the next round neither appends nor cuts.
    await expect(processLog.log.append({ n: 3 })).rejects.toMatchObject({
      code: 'AUDIT_LOG_SHARED',
    });
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');
  });

  it('does not cut back a failed round once its lock is lost during it', async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    let failNext = false;
    const { clock, options } = lockClock();
    staleLock(lockFile, clock.now);
    const processLog = (await openProcessAuditLog(
      resolveServeConfig({ auditLog: path }),
      silentLogger,
      {
        lock: options,
        probeTimer: () => () => undefined,
        openFile: (file) =>
          openAuditFileWith(file, (real) => ({
            appendFile: async (data) => {
              if (!failNext) return real.appendFile(data);
              failNext = false;
              // The other writer takes the lock, then the write fails half way.
              otherTakesIt(lockFile, clock.now);
              await real.appendFile(data.slice(0, data.length >> 1));
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
                code: 'ENOSPC',
              });
            },
          })),
      },
    )) as ProcessAuditLog;
    cleanups.push(() => processLog[Symbol.asyncDispose]());
    await processLog.log.append({ n: 1 });
    failNext = true;
    await expect(processLog.log.append({ n: 2 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(processLog.log.failing).toBe('AUDIT_LOG_SHARED');
    // Not cut: the file is the other writer's now (it cuts a partial record when it opens it).
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n"'); // half of '{"n":2}\n'
    // Its lock is not removed at close.
    await processLog[Symbol.asyncDispose]();
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toEqual(OTHER);
  });

  it("finds a lost lock by its heartbeat: issuance refused with no round, the new holder's lock never touched", async () => {
    const path = newPath();
    const lockFile = `${path}.lock`;
    const beats: (() => void)[] = [];
    const { clock, options } = lockClock();
    staleLock(lockFile, clock.now);
    const { processLog } = await openProcess(path, {
      ...options,
      heartbeat: (beat: () => void) => {
        beats.push(beat);
        return () => undefined;
      },
    });
    otherTakesIt(lockFile, clock.now - 10_000);
    const touched = statSync(lockFile).mtimeMs;
    beats[0]!();
    await waitUntil(() => processLog.log.failing === 'AUDIT_LOG_SHARED', 5);
    expect(processLog.guard()).toMatchObject({
      temporary: true,
      detail: expect.stringContaining('AUDIT_LOG_SHARED'),
    });
    beats[0]!();
    await processLog.log.append({ n: 1 }).catch(() => undefined);
    expect(statSync(lockFile).mtimeMs).toBe(touched);
  });
});

describe('an audit log that another process appends to', () => {
  /** ENOSPC on the next write, after `during` (another writer's append meanwhile) and half the data. */
  function failingOnce(during: (path: string) => void = () => undefined) {
    let fail = false;
    const opener: OpenAuditFile = (path) =>
      openAuditFileWith(path, (real) => ({
        appendFile: async (data) => {
          if (!fail) return real.appendFile(data);
          fail = false;
          during(path);
          await real.appendFile(data.slice(0, data.length >> 1));
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
            code: 'ENOSPC',
          });
        },
      }));
    return { opener, failNext: () => void (fail = true) };
  }

  const OUTSIDE = '{"outside":true}\n';

  it('never cuts a line appended from outside between rounds: it fails instead', async () => {
    const path = newPath();
    const disk = failingOnce();
    const events: string[] = [];
    const log = await AuditLog.open(path, disk.opener, undefined, {
      failing: (error) => events.push((error as { code: string }).code),
      probeTimer: () => () => undefined,
    });
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    appendFileSync(path, OUTSIDE);
    disk.failNext();
    await expect(log.append({ n: 2 })).rejects.toMatchObject({
      code: 'AUDIT_LOG_SHARED',
      message: expect.stringContaining(`another process appends to ${path}`),
    });
    expect(log.failing).toBe('AUDIT_LOG_SHARED');
    expect(events).toEqual(['AUDIT_LOG_SHARED']);
    // Nothing was appended on top of it, nothing cut.
    expect(readFileSync(path, 'utf8')).toBe(`{"n":1}\n${OUTSIDE}`);
    await expect(log.append({ n: 3 })).rejects.toMatchObject({ code: 'AUDIT_LOG_SHARED' });
    expect(readFileSync(path, 'utf8')).toBe(`{"n":1}\n${OUTSIDE}`);
  });

  it("does not cut back a failed round over another writer's line appended during it", async () => {
    const path = newPath();
    const disk = failingOnce((file) => appendFileSync(file, OUTSIDE));
    const log = await AuditLog.open(path, disk.opener, undefined, {
      probeTimer: () => () => undefined,
    });
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    disk.failNext();
    await expect(log.append({ n: 2 })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(log.failing).toBe('AUDIT_LOG_SHARED');
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith(`{"n":1}\n${OUTSIDE}`)).toBe(true);
  });
});
