import type { ServeConfig } from '../config/schema.js';
import type { GrantedOutcome } from '../tsp/authority.js';
import type { IssuanceGuard } from '../tsp/guards.js';
import { reject } from '../tsp/rejection.js';
import { poolConfig, redactUrl } from './connection.js';
import { ledgerEntry } from './entry.js';
import { Ledger, type LedgerLogger, type LedgerReceipt } from './ledger.js';

/** Connections per process: one commit at a time, the rest for the log's routes and sequencer. */
const POOL_SIZE = 6;

/** The process's --ledger-url: one pool and one group-commit queue shared by every listener. */
export interface ProcessLedger extends AsyncDisposable {
  ledger: Ledger;
  /** The authority's record step: resolves once the token is committed, with its log index. */
  record(granted: GrantedOutcome): Promise<LedgerReceipt>;
  /** Refuses issuance (systemFailure, /readyz red) while the database is unavailable. */
  guard: IssuanceGuard;
}

/** Opens --ledger-url for the process (undefined when it is not set). */
export async function openProcessLedger(
  config: ServeConfig,
  logger: LedgerLogger,
  timeSource?: () => object | undefined,
): Promise<ProcessLedger | undefined> {
  if (config.ledgerUrl === '') return undefined;
  const ledger = await Ledger.open(
    await poolConfig(config.ledgerUrl, config.ledgerPasswordFile, POOL_SIZE),
    logger,
  );
  logger.info(`issuance ledger: ${redactUrl(config.ledgerUrl)}`);
  return {
    ledger,
    record: (granted) =>
      ledger.record(ledgerEntry(granted, config.defaultPolicyOid, timeSource?.())),
    guard: () => {
      const reason = ledger.unavailableReason();
      return reason ? reject.systemFailure(reason) : undefined;
    },
    [Symbol.asyncDispose]: () => ledger.close(),
  };
}
