import { randomUUID } from 'node:crypto';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CodedError } from '../errors.js';

/**
 * One writer per audit log file, across processes and hosts (a shared volume): Node has no flock,
 * so a lock file beside the log (`PATH.lock`), created exclusively (O_EXCL), holding the writer's
 * pid, host and start time, kept fresh by a heartbeat (its mtime touched every
 * LOCK_HEARTBEAT_MS) and removed at close. A lock not touched for LOCK_STALE_MS, or held by a
 * process of this host that no longer runs, is a crashed writer's, and is taken over.
 */

/**
 * Why the audit log cannot be opened, or written without harm to another writer's lines.
 * AUDIT_LOG_NOT_DURABLE: not a regular file, and fdatasync fails on it (a pipe, /dev/null).
 */
export class AuditLogError extends CodedError<
  'AUDIT_LOG_LOCKED' | 'AUDIT_LOG_SHARED' | 'AUDIT_LOG_NOT_DURABLE'
> {
  override name = 'AuditLogError';
}

/** How often the holder touches its lock. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A lock untouched this long is a dead writer's (six heartbeats missed), taken over. */
export const LOCK_STALE_MS = 30_000;
/** How often a waiting writer looks at the lock again. */
export const LOCK_POLL_MS = 500;

/** The margin, over --graceful-timeout, for which a new writer waits for the lock. */
export const LOCK_WAIT_MARGIN_MS = 10_000;

/**
 * How long a starting writer waits for the lock: an old instance still draining after SIGTERM
 * holds it for --graceful-timeout (then the audit log's close grace, within the margin); a dead
 * writer's lock on another host goes stale within LOCK_STALE_MS.
 */
export const lockWaitMs = (gracefulTimeoutMs: number): number =>
  Math.max(gracefulTimeoutMs, LOCK_STALE_MS) + LOCK_WAIT_MARGIN_MS;

/** The lock file of the audit log at `path`. */
export const lockPathFor = (path: string): string => `${path}.lock`;

/** What the lock file holds. */
interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

/** The clocks and timers of the lock; tests replace them. */
export interface AuditLockOptions {
  /** Wall-clock ms (compared with the lock file's mtime). Default Date.now. */
  now?: () => number;
  /** Waits `ms` between two looks at a held lock. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Calls `beat` every LOCK_HEARTBEAT_MS until the returned function is called. */
  heartbeat?: (beat: () => void) => () => void;
  /** How long to wait for a held lock before giving up. */
  waitMs: number;
}

export interface AuditLock {
  readonly lockPath: string;
  /** Stops the heartbeat and removes the lock file, if it is still this writer's. */
  release(): Promise<void>;
}

const defaultHeartbeat = (beat: () => void): (() => void) => {
  const timer = setInterval(beat, LOCK_HEARTBEAT_MS).unref();
  return () => clearInterval(timer);
};

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

const isCode = (error: unknown, code: string): boolean =>
  (error as { code?: unknown } | null)?.code === code;

/** The holder of the lock at `lockPath` and its last touch, or undefined when there is none. */
async function readHolder(
  lockPath: string,
): Promise<{ holder: Partial<LockHolder>; mtimeMs: number; ino: number } | undefined> {
  try {
    const { mtimeMs, ino } = await stat(lockPath);
    let holder: Partial<LockHolder> = {};
    try {
      holder = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<LockHolder>;
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      // Empty or cut short (its writer died while writing it): a holder without a name.
    }
    return { holder, mtimeMs, ino };
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** The lock files this process holds. */
const heldHere = new Set<string>();

/**
 * Whether the holder is a process of this host that no longer runs (a worker killed -9): its
 * lock is taken over at once rather than when stale. A lock naming this very process that it does
 * not hold is a predecessor's with the same pid: a container restarted on a persistent volume,
 * where the server is pid 1 again.
 */
function deadOnThisHost(holder: Partial<LockHolder>, lockPath: string): boolean {
  if (holder.hostname !== hostname() || typeof holder.pid !== 'number') return false;
  if (holder.pid === process.pid) return !heldHere.has(lockPath);
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return isCode(error, 'ESRCH');
  }
}

const describeHolder = (holder: Partial<LockHolder>): string =>
  `pid ${holder.pid ?? '?'} on ${holder.hostname ?? '?'} (started ${holder.startedAt ?? '?'})`;

/**
 * Takes the lock of the audit log at `path`: at once when it is free or stale, else after waiting
 * for its holder to release it, up to `waitMs`; past that, fails with AUDIT_LOG_LOCKED naming
 * the lock file and its holder. `onTakeover` hears of a stale lock taken over, `onWait` of the
 * wait, once, when it begins.
 */
export async function acquireAuditLock(
  path: string,
  options: AuditLockOptions,
  onTakeover: (lockPath: string, holder: string, ageMs: number) => void = () => undefined,
  onWait: (lockPath: string, holder: string) => void = () => undefined,
): Promise<AuditLock> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const lockPath = lockPathFor(path);
  const mine: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date(now()).toISOString(),
    token: randomUUID(),
  };
  const deadline = now() + options.waitMs;
  let waiting = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o640);
      try {
        await handle.writeFile(`${JSON.stringify(mine)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
    }
    const held = await readHolder(lockPath);
    if (!held) continue; // Released meanwhile.
    const ageMs = now() - held.mtimeMs;
    if (ageMs > LOCK_STALE_MS || deadOnThisHost(held.holder, lockPath)) {
      // A dead writer's. Removed only if it is still the lock just read (another starting writer
      // may have taken it over already).
      const again = await readHolder(lockPath);
      if (again && again.ino === held.ino && again.mtimeMs === held.mtimeMs) {
        await unlink(lockPath).catch((unlinkError: unknown) => {
          if (!isCode(unlinkError, 'ENOENT')) throw unlinkError;
        });
        onTakeover(lockPath, describeHolder(held.holder), ageMs);
      }
      continue;
    }
    if (now() >= deadline) {
      throw new AuditLogError(
        'AUDIT_LOG_LOCKED',
        `the audit log ${path} is in use by another process: its lock ${lockPath} is held by ${describeHolder(held.holder)}, last refreshed ${Math.round(ageMs / 1000)} s ago; waited ${options.waitMs} ms for it (two processes must never share an audit log)`,
      );
    }
    if (!waiting) onWait(lockPath, describeHolder(held.holder));
    waiting = true;
    await sleep(LOCK_POLL_MS);
  }
  heldHere.add(lockPath);
  const stopHeartbeat = (options.heartbeat ?? defaultHeartbeat)(() => {
    const at = new Date(now());
    // A lock removed from outside is not recreated: the safety net at each round protects the
    // lines of whoever took it.
    utimes(lockPath, at, at).catch(() => undefined);
  });
  let released = false;
  return {
    lockPath,
    release: async () => {
      if (released) return;
      released = true;
      stopHeartbeat();
      heldHere.delete(lockPath);
      const held = await readHolder(lockPath);
      if (held?.holder.token === mine.token) {
        await unlink(lockPath).catch((error: unknown) => {
          if (!isCode(error, 'ENOENT')) throw error;
        });
      }
    },
  };
}
