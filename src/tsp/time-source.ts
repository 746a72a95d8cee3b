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
  /** Server minus local clock, ms, in the last check. */
  offsetMs?: number;
  /** The bound on the local clock's error the last check measured, ms (chrony). */
  boundMs?: number;
  /** The accuracy this token declares, ms, when it follows the clock (--accuracy auto). */
  accuracyMs?: number;
}
