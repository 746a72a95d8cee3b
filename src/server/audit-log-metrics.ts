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

/** The queues the gauge reports: one per process (the process's --audit-log). */
const watched = new Set<() => number>();

export const auditQueuedLines = new Gauge({
  name: 'timestamp_authority_audit_log_queued_lines',
  help: 'Audit lines waiting for the disk (the batch being written included); issuance is refused while the queue is at its bounds',
  registers: [registry],
  // Each cluster worker has its own file and queue.
  aggregator: 'sum',
  collect() {
    let lines = 0;
    for (const queued of watched) lines += queued();
    this.set(lines);
  },
});

/** Adds a queue to those the gauge reports; returns what removes it (when the log closes). */
export function watchAuditQueue(queuedLines: () => number): () => void {
  watched.add(queuedLines);
  return () => watched.delete(queuedLines);
}
