import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CodedError } from '../errors.js';

/**
 * One writer per audit log file, across processes and hosts (a shared volume): Node has no flock,
 * so a lock file beside the log (`PATH.lock`), created exclusively (O_EXCL), holding the writer's
 * pid, host and start time, kept fresh by a heartbeat (its mtime touched every
 * LOCK_HEARTBEAT_MS) and removed at close. A lock not touched for LOCK_STALE_MS, or held by a
 * process of this host that no longer runs, is a crashed writer's, and is taken over: ours is
 * renamed over it (atomic, unlike a delete and a create), then read again after LOCK_SETTLE_MS, as
 * two writers may take it over at once and only the last rename holds. A writer whose lock no
 * longer holds its token (taken over all the same, or removed) has lost it: the heartbeat and each
 * round of the log check, and the log stops writing (AUDIT_LOG_SHARED).
 */

/**
 * Why the audit log cannot be opened, or written without harm to another writer's lines.
 * AUDIT_LOG_NOT_DURABLE: not a regular file, and fdatasync fails on it (a pipe, /dev/null).
 * AUDIT_LOG_LOCK_FAILED: its lock file could not be written (a full disk, no permission).
 * AUDIT_LOG_REMOVED: the file was removed while this process wrote it.
 */
export class AuditLogError extends CodedError<
  | 'AUDIT_LOG_LOCKED'
  | 'AUDIT_LOG_LOCK_FAILED'
  | 'AUDIT_LOG_SHARED'
  | 'AUDIT_LOG_NOT_DURABLE'
  | 'AUDIT_LOG_REMOVED'
> {
  override name = 'AuditLogError';
}

/** How often the holder touches its lock. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A lock untouched this long is a dead writer's (six heartbeats missed), taken over. */
export const LOCK_STALE_MS = 30_000;
/** How often a waiting writer looks at the lock again. */
export const LOCK_POLL_MS = 500;
/**
 * How long a writer that renamed its lock over a stale one waits before reading it again: a writer
 * that found the same stale lock at the same moment has renamed its own by then (a later one is
 * found by the heartbeat and the rounds' check).
 */
export const LOCK_SETTLE_MS = 200;

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
  /**
   * Throws an AuditLogError AUDIT_LOG_SHARED when the lock file no longer holds this writer's
   * token (another writer took it over, or it was removed): the log must not be written then.
   */
  assertHeld(): Promise<void>;
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

/** The tokens of the locks this process holds, or has just renamed over a stale one (settling). */
const tokensHere = new Set<string>();

/**
 * Whether the holder is a process of this host that no longer runs (a worker killed -9): its
 * lock is taken over at once rather than when stale. A lock naming this very process that it does
 * not hold is a predecessor's with the same pid: a container restarted on a persistent volume,
 * where the server is pid 1 again.
 */
function deadOnThisHost(holder: Partial<LockHolder>): boolean {
  if (holder.hostname !== hostname() || typeof holder.pid !== 'number') return false;
  if (holder.pid === process.pid) return !tokensHere.has(holder.token ?? '');
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
 * Writes `text` to a new file at `path` (never an existing one), on disk before it returns;
 * `created` hears that the file exists. A file it could not write whole (a full disk) is removed:
 * an empty lock names no holder, and would hold off every writer until it went stale.
 */
async function createDurably(path: string, text: string, created?: () => void): Promise<void> {
  const handle = await open(path, 'wx', 0o640);
  created?.();
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await handle.close();
}

const removeIfThere = (path: string): Promise<void> =>
  unlink(path).catch((error: unknown) => {
    if (!isCode(error, 'ENOENT')) throw error;
  });

/**
 * Replaces the stale lock `stale` with `text`: written whole under a name of its own, then renamed
 * over the lock if the lock is still the one found stale. A rename leaves no moment without a
 * lock, where a delete then a create let a third writer's O_EXCL in between. Returns whether it
 * renamed; another writer may still rename its own over it (see LOCK_SETTLE_MS).
 */
async function replaceStaleLock(
  lockPath: string,
  stale: { ino: number; mtimeMs: number },
  text: string,
  token: string,
): Promise<boolean> {
  const temporary = `${lockPath}.${token}.tmp`;
  await createDurably(temporary, text);
  try {
    const again = await readHolder(lockPath);
    if (!again || again.ino !== stale.ino || again.mtimeMs !== stale.mtimeMs) return false;
    await rename(temporary, lockPath);
    return true;
  } finally {
    await removeIfThere(temporary);
  }
}

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
  onLost: (error: AuditLogError) => void = () => undefined,
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
  const text = `${JSON.stringify(mine)}\n`;
  const deadline = now() + options.waitMs;
  // A process that exits while it holds the lock or writes it (a start-up stopped by SIGTERM
  // exits at once: serve-lifecycle.ts) removes it on the way out, where a lock left behind held
  // the next start off until it went stale. Its text is ours alone (the token); an empty or
  // partly written one is ours while we are creating it.
  let creating = false;
  const removeAtExit = (): void => {
    try {
      const found = readFileSync(lockPath, 'utf8');
      if (found === text || (creating && text.startsWith(found))) unlinkSync(lockPath);
    } catch {
      // Gone already, or unreadable: nothing of ours to remove.
    }
  };
  process.on('exit', removeAtExit);
  try {
    let waiting = false;
    for (;;) {
      try {
        await createDurably(lockPath, text, () => (creating = true));
        break;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) {
          throw new AuditLogError(
            'AUDIT_LOG_LOCK_FAILED',
            `cannot create the audit log lock ${lockPath}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      } finally {
        creating = false;
      }
      const held = await readHolder(lockPath);
      if (!held) continue; // Released meanwhile.
      const ageMs = now() - held.mtimeMs;
      if (ageMs > LOCK_STALE_MS || deadOnThisHost(held.holder)) {
        // A dead writer's: replaced only if it is still the lock just read (another starting writer
        // may have taken it over already); ours only if no other writer renamed its own over it.
        if (!(await replaceStaleLock(lockPath, held, text, mine.token))) continue;
        // Alive while it settles: another writer of this process must not take it for a dead one's.
        tokensHere.add(mine.token);
        await sleep(LOCK_SETTLE_MS);
        if ((await readHolder(lockPath))?.holder.token !== mine.token) {
          tokensHere.delete(mine.token);
          continue;
        }
        onTakeover(lockPath, describeHolder(held.holder), ageMs);
        break;
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
  } catch (error) {
    process.off('exit', removeAtExit);
    throw error;
  }
  tokensHere.add(mine.token);
  let lost: AuditLogError | undefined;
  const assertHeld = async (): Promise<void> => {
    if (lost) throw lost;
    const found = await readHolder(lockPath);
    if (found?.holder.token === mine.token) return;
    lost = new AuditLogError(
      'AUDIT_LOG_SHARED',
      `the audit log lock ${lockPath} is no longer this process's: ${found ? `it is held by ${describeHolder(found.holder)}` : 'it was removed'} (another writer took it over); nothing is cut or appended to ${path}, issuance is refused until this process is restarted`,
    );
    onLost(lost);
    throw lost;
  };
  const stopHeartbeat = (options.heartbeat ?? defaultHeartbeat)(() => {
    const at = new Date(now());
    // Only our own lock is touched: a lost one is never kept fresh for its new holder.
    assertHeld()
      .then(() => utimes(lockPath, at, at))
      .catch(() => undefined);
  });
  let released = false;
  return {
    lockPath,
    assertHeld,
    release: async () => {
      if (released) return;
      released = true;
      stopHeartbeat();
      tokensHere.delete(mine.token);
      const held = await readHolder(lockPath);
      if (held?.holder.token === mine.token) await removeIfThere(lockPath);
      // Only now: an exit while the lock is being removed still removes it.
      process.off('exit', removeAtExit);
    },
  };
}
