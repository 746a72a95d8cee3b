/**
 * The clock's evidence at the moment a token is issued, as the clock gate saw it: recorded with
 * the token (audit log, ledger) and, with --accuracy auto, the accuracy the token declares.
 */
export interface TimeSourceSnapshot {
  /** Where the evidence came from: SNTP rounds, or a local chronyd. */
  source: 'sntp' | 'chrony';
  state: 'synced' | 'drifted' | 'unverified';
  /** chrony: the selected source's address. */
  reference?: string;
  /** chrony: whether the selected source and every source combined with it are NTS-authenticated. */
  authenticated?: boolean;
  /** Server minus local clock, ms, in the last check (chrony: its System time, its estimate). */
  offsetMs?: number;
  /**
   * chrony: the selected source minus chronyd's estimate at the source's last sample, ms: what
   * offsetMs has not taken in yet (after a jump, much of it). offsetMs plus this is the source
   * minus the local clock as that sample measured it.
   */
  sampleOffsetMs?: number;
  /** The bound on the local clock's error the last check measured, ms (chrony). */
  boundMs?: number;
  /** The accuracy this token declares, ms, when it follows the clock (--accuracy auto). */
  accuracyMs?: number;
}
