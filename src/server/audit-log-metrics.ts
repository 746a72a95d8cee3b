import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/registry.js';

/** Why a signed token was withheld for its audit line (see ProcessAuditLog.appendGranted). */
export type AuditWithheldReason = 'queue_full' | 'deadline' | 'failed';

export const auditLinesDropped = new Counter({
  name: 'timestamp_authority_audit_log_dropped_lines_total',
  help: 'Audit lines of refused requests not written because the audit queue was at its bounds (the disk did not keep up)',
  registers: [registry],
});

export const auditTokensWithheld = new Counter({
  name: 'timestamp_authority_audit_log_withheld_tokens_total',
  help: 'Signed tokens not sent because their audit line was not durable, by reason: queue_full (the queue was at its bounds), deadline (the line was not on disk in time), failed (the write or fdatasync failed)',
  labelNames: ['reason'] as const,
  registers: [registry],
});
// Every reason present from the start, so rate() and alerts see zeros rather than gaps.
for (const reason of ['queue_full', 'deadline', 'failed'] as const)
  auditTokensWithheld.inc({ reason }, 0);

export const auditLogFailures = new Counter({
  name: 'timestamp_authority_audit_log_failures_total',
  help: 'Times the audit log began failing: a write, fdatasync or cut-back failed (a full disk, an I/O error), and issuance was refused until a write succeeded',
  registers: [registry],
});

/** The logs the gauges report: one per process (the process's --audit-log). */
interface WatchedLog {
  queuedLines(): number;
  /** Whether it is failing (issuance refused until a write succeeds). */
  failing(): boolean;
}

const watched = new Set<WatchedLog>();

export const auditQueuedLines = new Gauge({
  name: 'timestamp_authority_audit_log_queued_lines',
  help: 'Audit lines waiting for the disk (the batch being written included); issuance is refused while the queue is at its bounds',
  registers: [registry],
  // Each cluster worker has its own file and queue.
  aggregator: 'sum',
  collect() {
    let lines = 0;
    for (const log of watched) lines += log.queuedLines();
    this.set(lines);
  },
});

export const auditLogFailing = new Gauge({
  name: 'timestamp_authority_audit_log_failing',
  help: 'Audit logs failing (1 per process; summed over --workers): the last write, fdatasync or cut-back failed and no write succeeded since, so issuance is refused',
  registers: [registry],
  aggregator: 'sum',
  collect() {
    let failing = 0;
    for (const log of watched) if (log.failing()) failing++;
    this.set(failing);
  },
});

/** Adds a log to those the gauges report; returns what removes it (when the log closes). */
export function watchAuditLog(log: WatchedLog): () => void {
  watched.add(log);
  return () => watched.delete(log);
}
