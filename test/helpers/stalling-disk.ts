import type { OpenAuditFile } from '../../src/server/audit-log-file.js';
import type { LineDeadline } from '../../src/server/audit-overflow.js';
import { openAuditFileWith } from './audit-file.js';

/**
 * An audit log disk whose fdatasync the test stalls (NFS, an EBS hiccup) and lets go: while
 * stalled, every fdatasync waits for `recover()`; `syncStarted()` resolves once one is waiting.
 */
export function stallingDisk() {
  let stalled = false;
  let release = (): void => undefined;
  let gate = Promise.resolve();
  let syncing = (): void => undefined;
  let started = Promise.resolve();
  const opener: OpenAuditFile = (path) =>
    openAuditFileWith(path, (real) => ({
      datasync: async () => {
        if (stalled) {
          syncing();
          await gate;
        }
        return real.datasync();
      },
    }));
  return {
    opener,
    stall(): void {
      stalled = true;
      gate = new Promise((resolve) => (release = resolve));
      started = new Promise((resolve) => (syncing = resolve));
    },
    syncStarted: (): Promise<void> => started,
    recover(): void {
      stalled = false;
      release();
    },
  };
}

/** Granted lines' deadlines that pass only when the test says so, in the order they were armed. */
export function manualDeadlines() {
  const armed: { expire: () => void; disarmed: boolean }[] = [];
  const arm: LineDeadline = (expire) => {
    const deadline = { expire, disarmed: false };
    armed.push(deadline);
    return () => {
      deadline.disarmed = true;
    };
  };
  return {
    arm,
    /** Deadlines armed and not disarmed (their line not settled yet). */
    pending: () => armed.filter((deadline) => !deadline.disarmed).length,
    /** Lets the `index`th deadline armed pass. */
    pass(index: number): void {
      const deadline = armed[index];
      if (!deadline) throw new Error(`no deadline #${index} was armed`);
      deadline.expire();
    },
  };
}
