import { open } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { reject } from '../tsp/rejection.js';
import { AuditLogError } from './audit-lock.js';
import { ServerError } from './server-error.js';

/*
 * The --audit-log file: appends that resolve once the line is on disk, in group commits (see
 * AuditLog). The process's log around it, and each request's lines, are audit-log.ts.
 */

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface PendingLine extends Waiter {
  text: string;
  /** Buffer.byteLength(text): what the line holds of the queue's byte bound. */
  bytes: number;
  /** Kept for the first round after the log recovers when its round fails (a refusal's line). */
  keep: boolean;
}

/** How much may wait for the disk at once, the batch being written included. */
export interface AuditQueueLimits {
  lines: number;
  bytes: number;
}

/**
 * The queue's bounds. A healthy disk writes whatever is queued in one write+fdatasync, so the
 * queue only fills while a round does not return: 10,000 lines are about a second of a process's
 * peak rate (docs/operations.md: ~8,500 tokens/s with the log), and 8 MiB holds them (a line is
 * ~500 bytes) while keeping a stalled disk from growing the heap. Beyond, tokens are refused
 * (503) and the lines of refused requests dropped.
 */
export const AUDIT_QUEUE_LIMITS: AuditQueueLimits = { lines: 10_000, bytes: 8 * 1024 * 1024 };

/** Why issuance is refused while the queue is full. */
export const AUDIT_QUEUE_FULL =
  'the audit log is not keeping up: too many lines are waiting for the disk';

/**
 * How often a failing audit log is probed while no line comes to try the disk (issuance refused,
 * /readyz red: the load balancer sends nothing); also its refusals' Retry-After.
 */
export const AUDIT_PROBE_INTERVAL_MS = 5_000;

/**
 * What the probe writes after the last committed record, fdatasyncs and cuts off again: a real
 * write (a full disk refuses it, where an fdatasync of nothing succeeds), no newline, so that a
 * crash before the cut leaves a partial record, cut at the next open.
 */
const PROBE_BYTES = ' '.repeat(4096);

/** Arms a timer: calls `fire` once it passes; returns what disarms it. */
export type ArmTimer = (fire: () => void) => () => void;

const probeTimer: ArmTimer = (fire) => {
  const timer = setTimeout(fire, AUDIT_PROBE_INTERVAL_MS).unref();
  return () => clearTimeout(timer);
};

/** Who hears of the log's failing state, and the probe's timer (tests fire it by hand). */
export interface AuditLogWatch {
  /**
   * A round failed (write, fdatasync or the cut-back) while the log was not failing (`began`), or
   * failed for another cause than the last (an ENOSPC that became an EIO).
   */
  failing?: (error: unknown, began: boolean) => void;
  /** A round or a probe succeeded while the log was failing. */
  recovered?: () => void;
  /** The probe's timer (default: AUDIT_PROBE_INTERVAL_MS, unref'ed). */
  probeTimer?: ArmTimer;
  /**
   * Throws an AuditLogError while this process no longer holds the file's lock (another writer
   * took it over): checked at each round and probe, before anything is appended or cut.
   */
  lockHeld?: () => Promise<void>;
}

/** An error's code (`ENOSPC`, `EIO`), else its name. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.name : 'unknown error';
}

/** The file operations the audit log uses (a FileHandle has them); tests inject failures. */
export interface AuditFile {
  appendFile(data: string): Promise<void>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number; nlink: number; isFile(): boolean }>;
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/**
 * A cluster worker's --audit-log file: `.worker-<slot>` before the extension
 * (`audit.jsonl` -> `audit.worker-1.jsonl`, `audit` -> `audit.worker-1`). Each slot has one
 * process at a time, so each file has one writer: a writer's cut-back on a failed write and its
 * record boundary are only right for a file no other process appends to.
 */
export function auditPathForSlot(path: string, slot: number): string {
  const extension = extname(path);
  return `${path.slice(0, path.length - extension.length)}.worker-${slot}${extension}`;
}

/** Opens the file at `path` for appending (default: `openDurably`). */
export type OpenAuditFile = (path: string) => Promise<AuditFile>;

/**
 * An append-only JSON-lines file whose appends resolve once the line is on disk.
 *
 * Group commit: lines appended while a write+fdatasync is under way wait and go out together in
 * the next one, so N concurrent requests cost about one fsync rather than N. What waits is
 * bounded (AUDIT_QUEUE_LIMITS): a disk whose fdatasync stalls must not grow the heap.
 *
 * One writer per file (a cluster worker writes its slot's file, see auditPathForSlot): the cut
 * below assumes no other process appends, and so does appendFile, which writes a batch over
 * 512 KiB in several write() calls (harmless with one writer: a failure between them is cut back).
 *
 * The file only ever ends at a record boundary once a round is over: a write or fdatasync that
 * fails (disk full, I/O error) may have left part of the batch in the file, so the file is cut
 * back to the end of the last committed record before anything else is written. Otherwise the
 * next record would be glued to a fragment, and a fragment of a record whose token was withheld
 * would still read `granted`.
 *
 * A failed round (write, fdatasync or cut-back) makes the log `failing` until a round succeeds:
 * the next batch's, or, while no line comes, a probe every AUDIT_PROBE_INTERVAL_MS (a write of
 * PROBE_BYTES, fdatasync'ed and cut off again). The process refuses issuance meanwhile.
 */
export class AuditLog {
  /** Lines waiting for the next round; with inFlight, within `limits` (see enqueue). */
  private pending: PendingLine[] = [];
  private pendingBytes = 0;
  /** The batch being written and fdatasync'ed. */
  private inFlight: PendingLine[] = [];
  private inFlightBytes = 0;
  /** Lines to keep whose round failed: written in the first round after the log recovers. */
  private held: PendingLine[] = [];
  private heldBytes = 0;
  private flushing: Promise<void> | undefined;
  private reopenWaiters: Waiter[] = [];
  private closed = false;
  /** Set when a round failed: the file may end with part of it until cut back. */
  private torn = false;
  /** What this process appended after `committed` in the last round (torn: what a cut removes). */
  private written = 0;
  /** Write+fdatasync rounds done so far (each carries one or more lines). */
  commits = 0;
  /** The code of the error that made the log fail (`ENOSPC`), until a round succeeds. */
  private failure: string | undefined;
  /** The last error of the failing state: what the lines of a batch failed unwritten get. */
  private failureError: unknown;
  private disarmProbe: (() => void) | undefined;
  /** The probe's timer fired: the next round is a probe, unless a batch comes first. */
  private probeDue = false;
  /** Probes finished so far (successful or not). */
  probes = 0;
  /** Lines kept through failed rounds and given up at close, the log still failing. */
  discarded = 0;

  private constructor(
    readonly path: string,
    private handle: AuditFile,
    /** Where the last committed record ends; undefined for a file that cannot be cut (a device). */
    private committed: number | undefined,
    private readonly openFile: OpenAuditFile,
    /** Bytes of a partial record found at the end of the file when it was opened, and removed. */
    public repairedBytes: number,
    private readonly limits: AuditQueueLimits,
    private readonly watch: AuditLogWatch,
  ) {}

  static async open(
    path: string,
    openFile: OpenAuditFile = openDurably,
    limits: AuditQueueLimits = AUDIT_QUEUE_LIMITS,
    watch: AuditLogWatch = {},
  ): Promise<AuditLog> {
    const { handle, committed, repairedBytes } = await openAtRecordBoundary(path, openFile);
    return new AuditLog(path, handle, committed, openFile, repairedBytes, limits, watch);
  }

  /**
   * While the last round failed (and no round or probe succeeded since): the error's code
   * (`ENOSPC`, `EIO`); else undefined.
   */
  get failing(): string | undefined {
    return this.failure;
  }

  /** Lines and bytes waiting for the disk, the batch being written included. */
  get queued(): { lines: number; bytes: number } {
    return {
      lines: this.pending.length + this.inFlight.length + this.held.length,
      bytes: this.pendingBytes + this.inFlightBytes + this.heldBytes,
    };
  }

  /** Whether the queue is at its bounds: enqueue() takes no line meanwhile (unless beyondBound). */
  get full(): boolean {
    const { lines, bytes } = this.queued;
    return lines >= this.limits.lines || bytes >= this.limits.bytes;
  }

  /**
   * Resolves when `record`'s line has been written and fdatasync'ed. A full queue refuses it at
   * once, as a temporary refusal (the disk may catch up): nothing is queued.
   */
  append(record: object): Promise<void> {
    return this.enqueue(record) ?? Promise.reject(reject.unavailable(AUDIT_QUEUE_FULL));
  }

  /**
   * {@link append}, or undefined (nothing queued) while the queue is full. `beyondBound` queues it
   * all the same: for lines whose number the caller bounds otherwise. A line to `keep` (one whose
   * loss withholds no token: a refusal's) is not given up when its round fails: it waits, within
   * the queue's bounds, for the first round after the log recovers, and is settled then.
   */
  enqueue(record: object, beyondBound = false, keep = false): Promise<void> | undefined {
    if (this.closed)
      return Promise.reject(new ServerError('AUDIT_LOG_CLOSED', 'audit log is closed'));
    if (!beyondBound && this.queued.lines >= this.limits.lines) return undefined;
    const text = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(text);
    if (!beyondBound && this.queued.bytes + bytes > this.limits.bytes) return undefined;
    return new Promise((resolve, reject) => {
      this.pending.push({ text, bytes, keep, resolve, reject });
      this.pendingBytes += bytes;
      this.startFlushing();
    });
  }

  /** Closes and reopens the path (after logrotate moved the file), between two batches. */
  reopen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.reopenWaiters.push({ resolve, reject });
      this.startFlushing();
    });
  }

  /**
   * Writes what is queued and closes the file. With `grace`, stops waiting when it settles first
   * (an fdatasync that never returns): the lines not yet on disk are rejected and their number
   * returned. FileHandle.close waits for the stalled call, so it is left to finish in the background.
   * Their text was written already: it may still reach the disk and read `granted` for a token that
   * was never sent (docs/operations.md, Audit log).
   */
  async close(grace?: Promise<unknown>): Promise<number> {
    this.closed = true;
    this.disarmProbe?.();
    this.disarmProbe = undefined;
    const flushed = (this.flushing ?? Promise.resolve()).then(() => false);
    if (!(await (grace ? Promise.race([flushed, grace.then(() => true)]) : flushed))) {
      this.discardHeld();
      await this.handle.close();
      return 0;
    }
    const abandoned = [...this.inFlight, ...this.pending];
    this.inFlight = [];
    this.inFlightBytes = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.discardHeld();
    const error = new ServerError(
      'AUDIT_LOG_CLOSED',
      'audit log closed before the line was on disk',
    );
    for (const line of abandoned) line.reject(error);
    this.handle.close().catch(() => undefined);
    return abandoned.length;
  }

  private startFlushing(): void {
    this.flushing ??= this.flushLoop().finally(() => {
      this.flushing = undefined;
      // A line appended after the loop's last check, before this callback, would wait forever.
      if (this.pending.length > 0 || this.reopenWaiters.length > 0 || this.probeDue)
        this.startFlushing();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 || this.reopenWaiters.length > 0 || this.probeDue) {
      if (this.reopenWaiters.length > 0) await this.reopenNow();
      if (this.pending.length === 0) {
        if (this.probeDue) await this.probe();
        continue;
      }
      // While failing with lines kept from failed rounds, a batch does not write them all again:
      // the probe tries the disk first. If it works, they go first (recover() puts them back at
      // the head), so the file stays in time order; if not, the batch fails unwritten.
      if (this.failure !== undefined && this.held.length > 0) {
        await this.probe();
        if (this.failure !== undefined) {
          this.failUnwritten();
          continue;
        }
      }
      const batch = this.pending;
      // The batch's round is the probe.
      this.probeDue = false;
      const bytes = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      this.inFlight = batch;
      this.inFlightBytes = bytes;
      try {
        // In the try: whatever fails, every line of the batch is settled (or kept).
        const text = batch.map((line) => line.text).join('');
        await this.cutToCommitted();
        this.written = bytes;
        await this.handle.appendFile(text);
        await this.handle.datasync();
        // Removed while this round wrote it: its lines are in no file.
        await this.checkLinked();
        if (this.committed !== undefined) this.committed += bytes;
        this.written = 0;
        this.commits++;
        this.recover();
        for (const line of batch) line.resolve();
      } catch (error) {
        // Before the lines hear of it: their callers see the log failing.
        this.fail(await this.cutAfterFailure(error));
        this.settleFailed(batch, error);
      }
      this.inFlight = [];
      this.inFlightBytes = 0;
    }
  }

  /**
   * After a failed round: cuts the file back at once (so it does not keep a fragment while no
   * other record comes). Returns why the log fails: `error`, or the cut's AUDIT_LOG_SHARED.
   */
  private async cutAfterFailure(error: unknown): Promise<unknown> {
    if (error instanceof AuditLogError) return error;
    this.torn = true;
    try {
      await this.cutToCommitted();
      return error;
    } catch (cutError) {
      return cutError instanceof AuditLogError ? cutError : error;
    }
  }

  /** Enters (or stays in) the failing state, and arms the probe; tells a new cause. */
  private fail(error: unknown): void {
    this.failureError = error;
    const code = errorCode(error);
    if (this.failure !== code) {
      const began = this.failure === undefined;
      this.failure = code;
      this.watch.failing?.(error, began);
    }
    if (this.closed || this.disarmProbe) return;
    this.disarmProbe = (this.watch.probeTimer ?? probeTimer)(() => {
      this.disarmProbe = undefined;
      if (this.closed || this.failure === undefined) return;
      this.probeDue = true;
      this.startFlushing();
    });
  }

  /**
   * Enters the failing state for a cause found between rounds (the lock's heartbeat found it
   * lost), so that issuance is refused before the next token is signed.
   */
  lockLost(error: AuditLogError): void {
    this.fail(error);
  }

  /** Leaves the failing state (a round succeeded); the lines held meanwhile go first. */
  private recover(): void {
    if (this.failure === undefined) return;
    this.failure = undefined;
    this.disarmProbe?.();
    this.disarmProbe = undefined;
    if (this.held.length > 0) {
      this.unhold();
      this.startFlushing();
    }
    this.watch.recovered?.();
  }

  /** Puts the held lines back at the head of the queue. */
  private unhold(): void {
    if (this.held.length === 0) return;
    this.pending = [...this.held, ...this.pending];
    this.pendingBytes += this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
  }

  /** Fails the queued lines unwritten, as a failed round of theirs would. */
  private failUnwritten(): void {
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.settleFailed(batch, this.failureError);
  }

  /** The lines of a failed round: the ones to keep are held, the others rejected. */
  private settleFailed(lines: readonly PendingLine[], error: unknown): void {
    for (const line of lines) {
      if (line.keep && !this.closed) this.hold(line);
      else line.reject(error);
    }
  }

  private hold(line: PendingLine): void {
    this.held.push(line);
    this.heldBytes += line.bytes;
  }

  /** Gives up the held lines (the log closes while still failing), counted in `discarded`. */
  private discardHeld(): void {
    const held = this.held;
    this.discarded += held.length;
    this.held = [];
    this.heldBytes = 0;
    const error = new ServerError('AUDIT_LOG_CLOSED', 'audit log closed while it was failing');
    for (const line of held) line.reject(error);
  }

  /**
   * Tries the disk while no line comes: cuts what a failed round left, then writes PROBE_BYTES,
   * fdatasyncs them and cuts them off again. A file that cannot be cut (a device) is only
   * fdatasync'ed.
   */
  private async probe(): Promise<void> {
    this.probeDue = false;
    if (this.failure === undefined || this.closed) return;
    try {
      await this.cutToCommitted();
      if (this.committed !== undefined) {
        this.torn = true;
        this.written = PROBE_BYTES.length;
        await this.handle.appendFile(PROBE_BYTES);
        await this.handle.datasync();
        await this.cutToCommitted();
      } else {
        await this.handle.datasync();
      }
      this.recover();
    } catch (error) {
      this.fail(await this.cutAfterFailure(error));
    }
    this.probes++;
  }

  /**
   * Cuts a torn file back to the end of its last committed record, durably. First, at every
   * round, checks that the file holds no more than this process wrote: bytes beyond it are
   * another writer's (two processes on one file, an outside append), never cut: AUDIT_LOG_SHARED.
   */
  private async cutToCommitted(): Promise<void> {
    if (this.committed === undefined) return;
    await this.watch.lockHeld?.();
    const { size, nlink } = await this.handle.stat();
    if (nlink === 0) throw this.removed();
    const mine = this.committed + (this.torn ? this.written : 0);
    if (size > mine) {
      throw new AuditLogError(
        'AUDIT_LOG_SHARED',
        `another process appends to ${this.path} (or it was changed from outside): it holds ${size} bytes where this process wrote ${mine}; nothing is cut or appended, issuance is refused until the file is reopened (SIGHUP) or the process restarted`,
      );
    }
    if (!this.torn) return;
    // Truncated from outside (copytruncate, unsupported): cutting to the old offset would extend
    // the file with NULs and keep the fragment, so find the boundary in what is there now.
    if (size < this.committed) this.committed = await endOfLastRecord(this.handle, size);
    await this.handle.truncate(this.committed);
    await this.handle.datasync();
    this.torn = false;
    this.written = 0;
  }

  /**
   * Throws AUDIT_LOG_REMOVED when the open file is linked nowhere any more (`rm PATH`; logrotate's
   * `compress` deleting the rotated file before the reopen): what is written to it is lost.
   */
  private async checkLinked(): Promise<void> {
    if (this.committed === undefined) return;
    if ((await this.handle.stat()).nlink === 0) throw this.removed();
  }

  private removed(): AuditLogError {
    return new AuditLogError(
      'AUDIT_LOG_REMOVED',
      `the audit log ${this.path} was removed while this process wrote it: the records it held are in no file any more; issuance is refused until it is reopened (SIGHUP creates it again) or the process restarted`,
    );
  }

  private async reopenNow(): Promise<void> {
    const waiters = this.reopenWaiters;
    this.reopenWaiters = [];
    try {
      // The rotated file must not end with a withheld batch's fragment (`granted` lines for
      // tokens never sent): cut it from the old file first; if that fails, keep the old file.
      await this.cutBeforeLettingGo();
      const next = await openAtRecordBoundary(this.path, this.openFile);
      const previous = this.handle;
      this.handle = next.handle;
      this.committed = next.committed;
      this.repairedBytes = next.repairedBytes;
      this.torn = false;
      this.written = 0;
      await previous.close();
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      // Keep writing to the old file rather than lose lines.
      for (const waiter of waiters) waiter.reject(error);
    }
  }

  /**
   * Cuts what a failed round left in the file about to be let go. Not when the file holds
   * another writer's lines (AUDIT_LOG_SHARED): nothing of it may be cut, and reopening is the
   * way out of that state.
   */
  private async cutBeforeLettingGo(): Promise<void> {
    if (!this.torn) return;
    try {
      await this.cutToCommitted();
    } catch (error) {
      if (!(error instanceof AuditLogError)) throw error;
    }
  }
}

/**
 * Opens `path` for appending, creating it if needed, and fsyncs its directory so that a newly
 * created file's entry survives a crash as well as the lines fdatasync'ed into it.
 */
async function openDurably(path: string): Promise<AuditFile> {
  const handle = await open(path, 'a+', 0o640);
  try {
    const directory = await open(dirname(path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Opens the log and, for a regular file, finds where its last complete record ends. A partial
 * record there (a crash in the middle of a write) was never acknowledged (tokens leave only after
 * their whole batch is fdatasync'ed), so it is cut off rather than glued to the next record.
 */
async function openAtRecordBoundary(path: string, openFile: OpenAuditFile) {
  const handle = await openFile(path);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await syncOnce(path, handle);
      return { handle, committed: undefined, repairedBytes: 0 };
    }
    const committed = await endOfLastRecord(handle, stat.size);
    if (committed < stat.size) {
      await handle.truncate(committed);
      await handle.datasync();
    }
    return { handle, committed, repairedBytes: stat.size - committed };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * For a file that is not a regular one: fdatasyncs it once, as every round will. A pipe or a
 * character device such as /dev/null or /dev/stdout under Docker refuses it (EINVAL), so every
 * token would be withheld for good: such a file is refused when it is opened instead.
 */
async function syncOnce(path: string, handle: AuditFile): Promise<void> {
  try {
    await handle.datasync();
  } catch (error) {
    throw new AuditLogError(
      'AUDIT_LOG_NOT_DURABLE',
      `--audit-log ${path} is not a regular file and cannot be fdatasync'ed (${errorCode(error)}): a token is sent only once its line is on disk, so a pipe, /dev/null or /dev/stdout cannot hold the audit log; give a file on a disk`,
      { cause: error },
    );
  }
}

/** The offset just after the last newline of the file's first `size` bytes (0 if none). */
async function endOfLastRecord(handle: AuditFile, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) return start + newline + 1;
    end = start;
  }
  return 0;
}
