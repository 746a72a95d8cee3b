import { describe, expect, it } from 'vitest';
import { registry } from '../../../../src/metrics/registry.js';
import { CircuitBreaker } from '../../../../src/signers/kms/circuit-breaker.js';
import {
  unwatchCircuitBreaker,
  watchCircuitBreaker,
} from '../../../../src/signers/kms/remote-signer-metrics.js';

async function reportedState(): Promise<string | undefined> {
  const text = await registry.getSingleMetricAsString('timestamp_authority_signer_circuit_state');
  return /state="([a-z-]+)"} 1$/m.exec(text)?.[1];
}

/** A breaker opened by one failure, whose cool-down ends when `clock.now` says so. */
function openBreaker(clock: { now: number }): CircuitBreaker {
  const breaker = new CircuitBreaker({ threshold: 1, cooldownMs: 1_000, now: () => clock.now });
  breaker.enter()?.failed();
  return breaker;
}

describe('timestamp_authority_signer_circuit_state with several signers (profiles)', () => {
  it('reports the worst state among the breakers, and forgets a closed signer', async () => {
    const clock = { now: 0 };
    const healthy = new CircuitBreaker({ threshold: 1, cooldownMs: 1_000 });
    const failing = openBreaker(clock);
    // The failing one first: the state must not be the last watched breaker's.
    watchCircuitBreaker(failing);
    watchCircuitBreaker(healthy);
    expect(await reportedState()).toBe('open');
    clock.now = 1_000; // the cool-down is over: half-open, still worse than closed
    expect(await reportedState()).toBe('half-open');
    unwatchCircuitBreaker(failing);
    expect(await reportedState()).toBe('closed');
  });
});
