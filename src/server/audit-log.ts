import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import {
  RecordError,
  type GrantedOutcome,
  type IssueOutcome,
  type RejectionOutcome,
  type RequestFormat,
} from '../tsp/authority.js';
import type { IssuanceGuard } from '../tsp/guards.js';
import { reject, TimeStampRejection } from '../tsp/rejection.js';
import {
  AUDIT_PROBE_INTERVAL_MS,
  AUDIT_QUEUE_FULL,
  AuditLog,
  errorCode,
  type ArmTimer,
  type AuditQueueLimits,
  type OpenAuditFile,
} from './audit-log-file.js';
import { auditLogFailures, auditTokensWithheld, watchAuditLog } from './audit-log-metrics.js';
import {
  droppedLinesReport,
  lineWaitMs,
  timerDeadline,
  withinDeadline,
  type LineDeadline,
} from './audit-overflow.js';
import {
  acquireAuditLock,
  AuditLogError,
  lockWaitMs,
  type AuditLockOptions,
} from './audit-lock.js';
import { auditRecord } from './audit-record.js';
import { clientAborted } from './client-aborts.js';
import { cutStatus } from './server-cuts.js';
import type { AnswerOutcome } from './http-outcome.js';

/*
 * The process's --audit-log (its lock, the warnings and metrics of its failures, the guard that
 * refuses issuance while it fails or cannot keep up) and each timestamp request's lines in it. The
 * file and its group-commit queue are audit-log-file.ts.
 */

/**
 * Why issuance is refused while the audit log's writes fail (a full disk, an I/O error), with the
 * error's code: `the audit log cannot be written (ENOSPC)`.
 */
export const AUDIT_LOG_FAILING = 'the audit log cannot be written';

/** The audit of one POST /api/v1/timestamp. */
export interface RequestAudit {
  /** issue()'s record step: resolves once the granted token's line is durable. */
  record?: (granted: GrantedOutcome) => Promise<void>;
  /** Writes the line of a rejection answered `httpStatus`, without holding the response. */
  rejected(outcome: RejectionOutcome, httpStatus: number): void;
  /**
   * A granted token another record step (the ledger) did not keep, so it was withheld: the
   * rejection's line names its serial number, as for a token whose own line failed.
   */
  withheld(serialNumber: string): void;
}

/** The audit steps of one request. */
export type AuditRequest = (request: FastifyRequest, format: RequestFormat) => RequestAudit;

const NO_AUDIT: RequestAudit = { rejected: () => {}, withheld: () => {} };

/**
 * The process's --audit-log: one file, one group-commit queue and one SIGHUP handler (which
 * reopens the file), shared by every listener so that their lines go out in one order.
 */
export interface ProcessAuditLog extends AsyncDisposable {
  log: AuditLog;
  /**
   * Refuses issuance (temporary: 503, /readyz red) while the log is failing (a round failed, no
   * round or probe succeeded since) or its queue is at its bounds.
   */
  guard: IssuanceGuard;
  /**
   * Queues a granted token's line: resolves once it is durable, rejects with a temporary refusal
   * when it is not within its deadline (the line stays queued). Undefined, nothing queued, while
   * the queue is full.
   */
  appendGranted(record: object): Promise<void> | undefined;
  /**
   * Queues a refused request's line without waiting for it; while the queue is full it is dropped
   * (counted, WARNed), unless `beyondBound`. Failures go to `logger`, the request's own.
   */
  appendInBackground(record: object, logger: FastifyBaseLogger, beyondBound?: boolean): void;
}

/**
 * How long closing the log waits, after the listeners have drained (--graceful-timeout), for the
 * last batch. Fixed and short: a healthy fdatasync takes milliseconds, the lines still waiting
 * belong to connections already closed (their tokens were never sent), and it stays under the
 * cluster's 5 s kill margin so that a worker logs what it abandoned itself.
 */
export const AUDIT_CLOSE_GRACE_MS = 2_000;

const closeGraceTimer = (): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, AUDIT_CLOSE_GRACE_MS).unref());

/** How the process's audit log is opened and bounded; tests replace the file, timers and clock. */
export interface AuditLogOptions {
  openFile?: OpenAuditFile;
  /** Bounds the wait for the last batch at close (default AUDIT_CLOSE_GRACE_MS). */
  closeGrace?: () => Promise<unknown>;
  /** A granted line's deadline (default lineWaitMs(--write-timeout) on a timer). */
  lineDeadline?: LineDeadline;
  limits?: AuditQueueLimits;
  /** A monotonic clock in ms, for the dropped lines' WARN (default performance.now). */
  now?: () => number;
  /** The failing log's probe timer (default AUDIT_PROBE_INTERVAL_MS). */
  probeTimer?: ArmTimer;
  /** The lock file's clocks and timers, and its wait (default lockWaitMs(--graceful-timeout)). */
  lock?: Partial<AuditLockOptions>;
}

const NO_LOCK = { assertHeld: async () => {}, release: async () => {} };

/** Opens --audit-log for the process (undefined when it is not set). */
export async function openProcessAuditLog(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  options: AuditLogOptions = {},
): Promise<ProcessAuditLog | undefined> {
  if (config.auditLog === '') return undefined;
  const path = config.auditLog;
  // One writer per file: waits for a writer still draining, fails the start past the wait. A
  // device (no lock file beside it in /dev, and nothing of it is ever cut) takes none.
  const device = await stat(path).then(
    (found) => !found.isFile(),
    () => false,
  );
  // Set once the log is open: the lock's heartbeat may find the lock lost after that.
  let opened: AuditLog | undefined;
  const lock = device
    ? NO_LOCK
    : await acquireAuditLock(
        path,
        { waitMs: lockWaitMs(config.gracefulTimeout), ...options.lock },
        (lockPath, holder, ageMs) =>
          logger.warn(
            { path, lockPath, holder, ageMs },
            `audit log lock ${lockPath} of ${holder} not refreshed for ${Math.round(ageMs / 1000)} s (a writer that died): taken over`,
          ),
        (lockPath, holder) =>
          logger.warn(
            { path, lockPath, holder },
            `waiting for the audit log lock ${lockPath}, held by ${holder}: another process writes ${path}`,
          ),
        (error) => opened?.lockLost(error),
      );
  let log: AuditLog;
  try {
    log = await AuditLog.open(path, options.openFile, options.limits, {
      // One ERROR when the state begins (or its cause changes), one INFO when it ends: not one
      // per request.
      failing: (error, began) => {
        // The times it began failing; a new cause gets its own ERROR, not another count.
        if (began) auditLogFailures.inc();
        const code = errorCode(error);
        logger.error(
          { err: error, path, code },
          error instanceof AuditLogError
            ? error.message
            : `${AUDIT_LOG_FAILING} (${code}): refusing issuance until a write succeeds`,
        );
      },
      recovered: () => logger.info({ path }, 'audit log written again: issuance resumes'),
      ...(options.probeTimer ? { probeTimer: options.probeTimer } : {}),
      lockHeld: () => lock.assertHeld(),
    });
    opened = log;
  } catch (error) {
    await lock.release();
    throw error;
  }
  const waitMs = lineWaitMs(config.writeTimeout);
  const lineDeadline = options.lineDeadline ?? timerDeadline(waitMs);
  const dropped = droppedLinesReport(logger, log.path, options.now ?? (() => performance.now()));
  const late = () =>
    reject.unavailable(`the audit log line was not on disk within ${waitMs} ms: token withheld`);
  const reportRepair = (): void => {
    if (log.repairedBytes > 0) {
      logger.warn(
        { path: log.path, bytes: log.repairedBytes },
        'audit log ended with a partial record (an interrupted write), cut back to the last whole one',
      );
    }
  };
  reportRepair();
  const onHangup = (): void => {
    log.reopen().then(
      () => {
        logger.info({ path: log.path }, 'audit log reopened');
        reportRepair();
      },
      (error: unknown) =>
        logger.error({ err: error, path: log.path }, 'cannot reopen the audit log'),
    );
  };
  process.on('SIGHUP', onHangup);
  const unwatch = watchAuditLog({
    queuedLines: () => log.queued.lines,
    failing: () => log.failing !== undefined,
  });
  return {
    log,
    guard: () => {
      const code = log.failing;
      // Retry-After: the probe's interval, the soonest the refusal can end while no line comes.
      if (code !== undefined)
        return reject.unavailable(`${AUDIT_LOG_FAILING} (${code})`, AUDIT_PROBE_INTERVAL_MS);
      // No Retry-After of its own: a healthy disk empties the queue in one round, so a full one
      // is a stalled disk, for as long as it stalls.
      return log.full ? reject.unavailable(AUDIT_QUEUE_FULL) : undefined;
    },
    appendGranted: (record) => {
      const line = log.enqueue(record);
      if (!line) {
        auditTokensWithheld.inc({ reason: 'queue_full' });
        return undefined;
      }
      return withinDeadline(line, lineDeadline, () => {
        auditTokensWithheld.inc({ reason: 'deadline' });
        return late();
      }).catch((error: unknown) => {
        if (error instanceof TimeStampRejection) throw error;
        auditTokensWithheld.inc({ reason: 'failed' });
        throw writeFailure(error, log.failing);
      });
    },
    appendInBackground: (record, requestLogger, beyondBound = false) => {
      // Only the logger is kept while the line waits, never the request (its body).
      // Kept through a failing disk (written once it recovers): no token waits on it.
      const line = log.enqueue(record, beyondBound, true);
      if (!line) return dropped();
      line.catch((error: unknown) => {
        // The failing state's own ERROR says it once, not once per request.
        if (log.failing === undefined)
          requestLogger.error({ err: error }, 'cannot write the audit log');
      });
    },
    [Symbol.asyncDispose]: async () => {
      process.off('SIGHUP', onHangup);
      unwatch();
      const abandoned = await log
        .close(options.closeGrace?.() ?? closeGraceTimer())
        .finally(() => lock.release());
      if (abandoned > 0) {
        logger.error(
          { path: log.path, records: abandoned },
          `audit log: ${abandoned} records still not on disk at shutdown (the disk does not answer), abandoned; their tokens were not sent`,
        );
      }
      if (log.discarded > 0) {
        logger.error(
          { path: log.path, records: log.discarded },
          `audit log: ${log.discarded} records of refused requests kept while it was failing could not be written before shutdown, abandoned`,
        );
      }
    },
  };
}

/**
 * A granted line whose round failed, refused as the guard refuses the tokens after it (the log
 * is failing by the time its lines hear of it): a temporary refusal, 503 with the probe's interval
 * as Retry-After and the same reason, not a 500 for the one batch that hit the failure. An error
 * while the log is not failing (closed at shutdown) is passed on as it is.
 */
function writeFailure(error: unknown, failing: string | undefined): unknown {
  if (failing === undefined) return error;
  const reason = `${AUDIT_LOG_FAILING} (${failing})`;
  return new RecordError('NOT_RECORDED', reason, {
    cause: error,
    temporary: true,
    retryInMs: AUDIT_PROBE_INTERVAL_MS,
    detail: reason,
  });
}

/**
 * --audit-log: one JSON line per POST /api/v1/timestamp. A granted token is sent only after its
 * line is durable (the authority's record step); if the line cannot be written the client gets
 * systemFailure instead of an unrecorded token, and the rejection's line names the withheld
 * serial number: 503 (temporary) when the queue is full, the line misses its deadline or the write
 * fails (see writeFailure). Rejections are written in the same batches without holding the response.
 * Requests refused before the handler (413, 415, 429) get a line from the onResponse hook.
 * `processLog` is the process's (see openProcessAuditLog); the listener does not close it.
 */
export function installAuditLog(
  app: FastifyInstance,
  config: ServeConfig,
  /** Each audited route, and the profile its path names (none where a policy picks it). */
  routes: ReadonlyMap<string, string | undefined>,
  answer: AnswerOutcome,
  processLog: ProcessAuditLog | undefined,
  profileDefaultPolicies: ReadonlyMap<string, string> = new Map(),
): AuditRequest {
  if (!processLog) return () => NO_AUDIT;
  /** The token's policy when the request names none: the issuing profile's default. */
  const defaultPolicy = (outcome: IssueOutcome | undefined): string =>
    (outcome?.profile !== undefined && profileDefaultPolicies.get(outcome.profile)) ||
    config.defaultPolicyOid;
  const audited = new WeakSet<FastifyRequest>();

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    if (request.method !== 'POST' || !routes.has(route) || audited.has(request)) return;
    // Nothing was asked: the body never arrived whole (an HTTP/2 stream's 408 at --read-timeout
    // included, which its hooks see answered), or no answer could be sent.
    if (clientAborted(request) || cutStatus(request.raw) === 408) return;
    const record = auditRecord(request, reply.statusCode, undefined, config.defaultPolicyOid);
    // A profile's own path names it; on /api/v1/timestamp the unread request's policy would.
    const profile = routes.get(route);
    if (profile !== undefined) record.profile = profile;
    processLog.appendInBackground(record, request.log);
  });

  return (request, format) => {
    audited.add(request);
    let withheldSerialNumber: string | undefined;
    /** Whether the token's own line was queued: its withheld line is then never dropped. */
    let grantedLineQueued = false;
    return {
      record: async (granted) => {
        const httpStatus = answer(granted, format).status;
        const line = processLog.appendGranted(
          auditRecord(request, httpStatus, granted, defaultPolicy(granted)),
        );
        try {
          if (!line) throw reject.unavailable(AUDIT_QUEUE_FULL);
          grantedLineQueued = true;
          await line;
        } catch (error) {
          withheldSerialNumber = granted.serialNumber;
          throw error;
        }
      },
      withheld: (serialNumber) => {
        withheldSerialNumber = serialNumber;
      },
      rejected: (outcome, httpStatus) => {
        const record = auditRecord(request, httpStatus, outcome, defaultPolicy(outcome));
        // At most one per queued granted line: the queue stays under twice its bounds.
        processLog.appendInBackground(
          withheldSerialNumber === undefined ? record : { ...record, withheldSerialNumber },
          request.log,
          withheldSerialNumber !== undefined && grantedLineQueued,
        );
      },
    };
  };
}
