import { performance } from 'node:perf_hooks';

/** What a report of a recurring event says: how many happened since the last, this one included. */
export interface DueReport {
  /** 1 for the first report of its key. */
  sinceLastReport: number;
  first: boolean;
}

/**
 * Paces the log lines of an event that may recur at any rate (connections dropped, handshakes
 * failed): the first of each key is reported at once, then at most one every `intervalMs`, with
 * how many happened since (a monotonic clock: a step of the wall clock moves nothing).
 */
export class ReportThrottle<Key> {
  private readonly last = new Map<Key, { at: number; since: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether this event of `key` is reported now, and what the report says; undefined: not now. */
  due(key: Key): DueReport | undefined {
    const at = this.now();
    const last = this.last.get(key);
    if (last && at - last.at < this.intervalMs) {
      last.since++;
      return undefined;
    }
    this.last.set(key, { at, since: 0 });
    return { sinceLastReport: last ? last.since + 1 : 1, first: last === undefined };
  }
}
