import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics/registry.js';

let available: (() => boolean) | undefined;
let treeSize = 0;
let unintegratedAge = 0;

export const ledgerCommitsTotal = new Counter({
  name: 'timestamp_authority_ledger_commits_total',
  help: 'Group commits to the ledger database, by result (ok, failed)',
  labelNames: ['result'] as const,
  registers: [registry],
});
ledgerCommitsTotal.inc({ result: 'ok' }, 0);
ledgerCommitsTotal.inc({ result: 'failed' }, 0);

export const ledgerBatchSize = new Histogram({
  name: 'timestamp_authority_ledger_batch_size',
  help: 'Tokens per group commit to the ledger database',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  registers: [registry],
});

const LEDGER_AVAILABLE = 'timestamp_authority_ledger_available';
/**
 * Registered by watchLedger, when a ledger opens: a server without one has no such series (0 would
 * fire an outage alert on every ledger-less server).
 */
export const ledgerAvailable = new Gauge({
  name: LEDGER_AVAILABLE,
  help:
    '1 while the ledger takes tokens, 0 while it refuses issuance: database unreachable or ' +
    'read-only, login refused, counter row behind the log, or commits failing (the reason is on ' +
    '/readyz); a full commit queue reads 1',
  registers: [],
  // Each cluster worker has its own pool: 0 when any worker is cut off.
  aggregator: 'min',
  collect() {
    if (available) this.set(available() ? 1 : 0);
  },
});

const LOG_TREE_SIZE = 'timestamp_authority_log_tree_size';
const LOG_UNINTEGRATED_AGE = 'timestamp_authority_log_unintegrated_age_seconds';
/** Registered by watchLog, when a transparency log's sequencer starts: none without a log. */
export const logTreeSize = new Gauge({
  name: LOG_TREE_SIZE,
  help: 'Size of the latest checkpoint this process signed as the transparency log sequencer',
  registers: [],
  aggregator: 'max',
  collect() {
    this.set(treeSize);
  },
});

/** Registered by watchLog, as logTreeSize. */
export const logUnintegratedAge = new Gauge({
  name: LOG_UNINTEGRATED_AGE,
  help:
    'Age of the oldest ledger entry not yet in a signed checkpoint (0 when every entry is), as ' +
    'every replica sees it each checkpoint interval: a stalled sequencer makes it grow',
  registers: [],
  aggregator: 'max',
  collect() {
    this.set(unintegratedAge);
  },
});

export const logSequencerRefusals = new Counter({
  name: 'timestamp_authority_log_sequencer_refusals_total',
  help:
    'Checkpoints the sequencer refused to sign or publish, by reason: foreign_checkpoint (the ' +
    "latest one is not signed by this process's --ledger-key and --ledger-origin), inconsistent " +
    '(the stored log disagrees with the signed checkpoint), ledger_mismatch (the ledger no longer ' +
    "holds the latest checkpoint's last entry: a partial restore), ledger_gap (a log index " +
    'missing among the ledger rows to integrate: rows removed, or a counter row moved past ' +
    "them), bad_signature (a new checkpoint did not verify with the log's own key)",
  labelNames: ['reason'] as const,
  registers: [registry],
});
logSequencerRefusals.inc({ reason: 'foreign_checkpoint' }, 0);
logSequencerRefusals.inc({ reason: 'inconsistent' }, 0);
logSequencerRefusals.inc({ reason: 'ledger_mismatch' }, 0);
logSequencerRefusals.inc({ reason: 'ledger_gap' }, 0);
logSequencerRefusals.inc({ reason: 'bad_signature' }, 0);

export function watchLedger(isAvailable: () => boolean): void {
  available = isAvailable;
  if (!registry.getSingleMetric(LEDGER_AVAILABLE)) registry.registerMetric(ledgerAvailable);
}

/** The log's gauges, once a sequencer runs in this process (a server without a log has none). */
export function watchLog(): void {
  for (const [name, gauge] of [
    [LOG_TREE_SIZE, logTreeSize],
    [LOG_UNINTEGRATED_AGE, logUnintegratedAge],
  ] as const)
    if (!registry.getSingleMetric(name)) registry.registerMetric(gauge);
}

export function recordTreeSize(size: number): void {
  treeSize = size;
}

export function recordUnintegratedAge(seconds: number): void {
  unintegratedAge = seconds;
}
