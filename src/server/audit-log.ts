import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { rejectionOutcome, type IssueOutcome, type RequestFormat } from '../tsp/authority.js';
import { reject } from '../tsp/rejection.js';
import { auditRecord } from './audit-record.js';
import { clientAborted } from './client-aborts.js';

interface PendingLine {
  text: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * An append-only JSON-lines file whose appends resolve once the line is on disk.
 *
 * Group commit: lines appended while a write+fdatasync is under way wait and go out together in
 * the next one, so N concurrent requests cost about one fsync rather than N.
 */
export class AuditLog {
  private pending: PendingLine[] = [];
  private flushing: Promise<void> | undefined;
  private reopenWaiters: PendingLine[] = [];
  private closed = false;
  /** Write+fdatasync rounds done so far (each carries one or more lines). */
  commits = 0;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
  ) {}

  static async open(path: string): Promise<AuditLog> {
    return new AuditLog(path, await openDurably(path));
  }

  /** Resolves when `record`'s line has been written and fdatasync'ed. */
  append(record: object): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit log is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ text: `${JSON.stringify(record)}\n`, resolve, reject });
      this.startFlushing();
    });
  }

  /** Closes and reopens the path (after logrotate moved the file), between two batches. */
  reopen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.reopenWaiters.push({ text: '', resolve, reject });
      this.startFlushing();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.handle.close();
  }

  private startFlushing(): void {
    this.flushing ??= this.flushLoop().finally(() => {
      this.flushing = undefined;
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 || this.reopenWaiters.length > 0) {
      if (this.reopenWaiters.length > 0) await this.reopenNow();
      const batch = this.pending;
      if (batch.length === 0) continue;
      this.pending = [];
      try {
        await this.handle.appendFile(batch.map((line) => line.text).join(''));
        await this.handle.datasync();
        this.commits++;
        for (const line of batch) line.resolve();
      } catch (error) {
        for (const line of batch) line.reject(error);
      }
    }
  }

  private async reopenNow(): Promise<void> {
    const waiters = this.reopenWaiters;
    this.reopenWaiters = [];
    try {
      const next = await openDurably(this.path);
      const previous = this.handle;
      this.handle = next;
      await previous.close();
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      // Keep writing to the old file rather than lose lines.
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}

/**
 * Opens `path` for appending, creating it if needed, and fsyncs its directory so that a newly
 * created file's entry survives a crash as well as the lines fdatasync'ed into it.
 */
async function openDurably(path: string): Promise<FileHandle> {
  const handle = await open(path, 'a', 0o640);
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

/** Passes an outcome through the audit trail and returns the outcome to send. */
export type AuditOutcome = (
  request: FastifyRequest,
  outcome: IssueOutcome,
  format: RequestFormat,
) => Promise<IssueOutcome>;

const passThrough: AuditOutcome = async (_request, outcome) => outcome;

/**
 * --audit-log: one JSON line per POST /api/v1/timestamp. A granted token is sent only after its
 * line is durable; if the line cannot be written the client gets systemFailure instead of an
 * unrecorded token. Rejections are written in the same batches without holding the response.
 * Requests refused before the handler (413, 415, 429) get a line from the onResponse hook.
 * SIGHUP reopens the file.
 */
export async function installAuditLog(
  app: FastifyInstance,
  config: ServeConfig,
  route: string,
): Promise<AuditOutcome> {
  if (config.auditLog === '') return passThrough;
  const log = await AuditLog.open(config.auditLog);
  const onHangup = (): void => {
    log.reopen().then(
      () => app.log.info({ path: log.path }, 'audit log reopened'),
      (error: unknown) =>
        app.log.error({ err: error, path: log.path }, 'cannot reopen the audit log'),
    );
  };
  process.on('SIGHUP', onHangup);
  app.addHook('onClose', async () => {
    process.off('SIGHUP', onHangup);
    await log.close();
  });
  const audited = new WeakSet<FastifyRequest>();
  const appendInBackground = (request: FastifyRequest, record: object): void => {
    log
      .append(record)
      .catch((error: unknown) => request.log.error({ err: error }, 'cannot write the audit log'));
  };

  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.url !== route || audited.has(request))
      return;
    // Nothing was asked: the body never arrived whole (or no answer could be sent).
    if (clientAborted(request)) return;
    appendInBackground(
      request,
      auditRecord(
        request,
        { httpStatus: reply.statusCode, granted: false },
        config.defaultPolicyOid,
      ),
    );
  });

  return async (request, outcome, format) => {
    audited.add(request);
    const record = auditRecord(request, outcome, config.defaultPolicyOid);
    if (!outcome.granted) {
      appendInBackground(request, record);
      return outcome;
    }
    try {
      await log.append(record);
      return outcome;
    } catch (error) {
      const failure = rejectionOutcome(
        Object.assign(reject.systemFailure('audit log write failed'), { cause: error }),
        format,
        undefined,
      );
      appendInBackground(request, {
        ...auditRecord(request, failure, config.defaultPolicyOid),
        withheldSerialNumber: outcome.serialNumber,
      });
      return failure;
    }
  };
}
