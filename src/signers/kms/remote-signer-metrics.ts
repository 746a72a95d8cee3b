import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/registry.js';
import type { CircuitBreaker, CircuitState } from './circuit-breaker.js';
import { FAILURE_REASONS, type FailureReason } from './failure-reason.js';

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

export const signerFailuresTotal = new Counter({
  name: 'timestamp_authority_signer_failures_total',
  help: 'Calls to the remote signature service that failed, by reason (timeout, connection, server_error, throttled, client_error, aborted, other)',
  labelNames: ['reason'] as const,
  registers: [registry],
});
// Every reason present from the start, so rate() and alerts see zeros rather than gaps.
for (const reason of FAILURE_REASONS) signerFailuresTotal.inc({ reason }, 0);

let watched: CircuitBreaker | undefined;

/** 1 for the current state, 0 for the others; read at scrape time (the cool-down ends by itself). */
export const signerCircuitState = new Gauge({
  name: 'timestamp_authority_signer_circuit_state',
  help: 'Circuit breaker of the remote signer: closed, open (issuance refused) or half-open (one probe admitted)',
  labelNames: ['state'] as const,
  registers: [registry],
  // Each cluster worker has its own breaker: 1 when any worker is in the state.
  aggregator: 'max',
  collect() {
    const current = watched?.state ?? 'closed';
    for (const state of CIRCUIT_STATES) this.set({ state }, state === current ? 1 : 0);
  },
});

export function recordSignerFailure(reason: FailureReason): void {
  signerFailuresTotal.inc({ reason });
}

/** The breaker the state gauge reports (the process has one remote signer). */
export function watchCircuitBreaker(breaker: CircuitBreaker): void {
  watched = breaker;
}
