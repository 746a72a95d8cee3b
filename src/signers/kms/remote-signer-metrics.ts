import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/registry.js';
import type { CircuitBreaker, CircuitState } from './circuit-breaker.js';
import { FAILURE_REASONS, type FailureReason } from './failure-reason.js';

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/**
 * Calls refused before they reached the service, beside the failures' reasons: queue_full, every
 * slot taken and the wait queue at its bound (slot-queue.ts MAX_WAITING_SIGNATURES).
 */
const LOCAL_REFUSALS = ['queue_full'] as const;
export type SignerFailureLabel = FailureReason | (typeof LOCAL_REFUSALS)[number];

export const signerFailuresTotal = new Counter({
  name: 'timestamp_authority_signer_failures_total',
  help: 'Calls to the remote signature service that failed, by reason (timeout, connection, server_error, throttled, client_error, aborted, saturated, other), or were refused before it: queue_full',
  labelNames: ['reason'] as const,
  registers: [registry],
});
// Every reason present from the start, so rate() and alerts see zeros rather than gaps.
for (const reason of [...FAILURE_REASONS, ...LOCAL_REFUSALS])
  signerFailuresTotal.inc({ reason }, 0);

/** The breakers of the process's signers: one per profile whose key is remote or in an HSM. */
const watched = new Set<CircuitBreaker>();

/** The states from the least to the most alarming: the gauge shows the worst breaker's. */
const SEVERITY: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The most alarming state among the watched breakers ('closed' when there are none). */
function worstState(): CircuitState {
  let worst: CircuitState = 'closed';
  for (const breaker of watched) {
    const state = breaker.state;
    if (SEVERITY[state] > SEVERITY[worst]) worst = state;
  }
  return worst;
}

/**
 * 1 for the current state, 0 for the others; read at scrape time (the cool-down ends by itself).
 * With several signers (profiles), the state of the one in the worst state: an alert on `open`
 * fires whichever profile's signer is refused.
 */
export const signerCircuitState = new Gauge({
  name: 'timestamp_authority_signer_circuit_state',
  help: 'Circuit breaker of the remote signer: closed, open (issuance refused) or half-open (one probe admitted)',
  labelNames: ['state'] as const,
  registers: [registry],
  // Each cluster worker has its own breaker: 1 when any worker is in the state.
  aggregator: 'max',
  collect() {
    const current = worstState();
    for (const state of CIRCUIT_STATES) this.set({ state }, state === current ? 1 : 0);
  },
});

export function recordSignerFailure(reason: SignerFailureLabel): void {
  signerFailuresTotal.inc({ reason });
}

/** Adds a signer's breaker to those the state gauge reports. */
export function watchCircuitBreaker(breaker: CircuitBreaker): void {
  watched.add(breaker);
}

/** A closed signer's breaker no longer counts (its last state would otherwise stay reported). */
export function unwatchCircuitBreaker(breaker: CircuitBreaker): void {
  watched.delete(breaker);
}
