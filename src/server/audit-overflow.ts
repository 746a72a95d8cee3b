import type { FastifyBaseLogger } from 'fastify';
import { auditLinesDropped } from './audit-log-metrics.js';

/**
 * What the audit log does when the disk does not keep up: the deadline of a granted token's wait
 * for its line, and the report of the refused requests' lines it drops.
 */

/** Arms a deadline: calls `expire` once it passes; returns what disarms it. */
export type LineDeadline = (expire: () => void) => () => void;

/** The shortest wait: a busy disk's fdatasync may take hundreds of ms without being stalled. */
const MIN_LINE_WAIT_MS = 1_000;
/** With --write-timeout 0 (no limit): half its default. */
const UNLIMITED_WRITE_LINE_WAIT_MS = 15_000;

/**
 * How long a granted token waits for its line: half of --write-timeout. The server cuts a
 * connection idle that long, and its clock started when the request arrived (signing, the
 * ledger's commit spent some of it): at half, the refusal (503) still reaches the client. Never
 * under 1 s, and 15 s without --write-timeout.
 */
export function lineWaitMs(writeTimeoutMs: number): number {
  if (writeTimeoutMs <= 0) return UNLIMITED_WRITE_LINE_WAIT_MS;
  return Math.max(MIN_LINE_WAIT_MS, Math.floor(writeTimeoutMs / 2));
}

export const timerDeadline =
  (ms: number): LineDeadline =>
  (expire) => {
    const timer = setTimeout(expire, ms);
    return () => clearTimeout(timer);
  };

/**
 * `line`, or `late()`'s error once the deadline passes first. The line stays queued (it may still
 * be written); whatever it settles with later is handled here.
 */
export function withinDeadline(
  line: Promise<void>,
  deadline: LineDeadline,
  late: () => unknown,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const disarm = deadline(() => reject(late()));
    line.then(
      () => {
        disarm();
        resolve();
      },
      (error: unknown) => {
        disarm();
        reject(error);
      },
    );
  });
}

/** At most one WARN this often about dropped lines (the metric counts each). */
export const DROP_WARN_INTERVAL_MS = 10_000;

/**
 * Counts a dropped line and WARNs: at the first drop, then at most every DROP_WARN_INTERVAL_MS
 * with the number dropped since the last WARN. `now` is monotonic.
 */
export function droppedLinesReport(
  logger: FastifyBaseLogger,
  path: string,
  now: () => number,
): () => void {
  let unreported = 0;
  let warnedAt: number | undefined;
  return () => {
    auditLinesDropped.inc();
    unreported++;
    const at = now();
    if (warnedAt !== undefined && at - warnedAt < DROP_WARN_INTERVAL_MS) return;
    warnedAt = at;
    logger.warn(
      { path, lines: unreported },
      `audit log queue full (the disk does not keep up): ${unreported} lines of refused requests dropped`,
    );
    unreported = 0;
  };
}
