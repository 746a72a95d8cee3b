import { expect, it } from 'vitest';
import type { Signer } from '../../../src/crypto/signer.js';
import { BREAKER_REMINDER_MS, logBreakerChanges } from '../../../src/runtime/breaker-log.js';
import { CircuitBreaker } from '../../../src/signers/kms/circuit-breaker.js';

it('logs the breaker opening once, a reminder while probes keep failing, and its closing', () => {
  let now = 0;
  const breaker = new CircuitBreaker({ threshold: 2, cooldownMs: 1_000, now: () => now });
  const lines: string[] = [];
  const record = (level: string) => (fields: unknown, message?: string) =>
    lines.push(
      `${level} ${message ?? String(fields)}${message ? ` ${JSON.stringify(fields)}` : ''}`,
    );
  const logger = { error: record('ERROR'), warn: record('WARN'), info: record('INFO') };
  const signer = { id: 'awskms:///k', breaker } as unknown as Signer;
  logBreakerChanges(signer, logger as never, 'profile x: ', () => now);

  breaker.enter()?.failed();
  expect(lines).toEqual([]);
  breaker.enter()?.failed();
  expect(lines).toEqual([
    'ERROR profile x: signer awskms:///k unavailable: circuit breaker opened after 2 consecutive failures; issuance refused until a probe request succeeds (check the service, the network and the credentials)',
  ]);
  lines.length = 0;
  // A probe every cool-down, each failing: one reminder once BREAKER_REMINDER_MS has passed.
  const probes = BREAKER_REMINDER_MS / 1_000;
  for (let probe = 0; probe < probes; probe++) {
    now += 1_000;
    breaker.enter()?.failed();
  }
  expect(lines).toEqual([
    `WARN profile x: signer awskms:///k still unavailable: circuit breaker open, each probe failing {"failedProbes":${probes}}`,
  ]);
  lines.length = 0;
  now += 1_000;
  breaker.enter()?.answered();
  expect(lines).toEqual([
    'INFO profile x: signer awskms:///k answers again: circuit breaker closed after 301 s open; issuance resumes',
  ]);
  // Closed: a call's answer is no change.
  breaker.enter()?.answered();
  expect(lines).toHaveLength(1);
});

it('leaves a signer without a breaker alone', () => {
  const signer = { id: 'memory' } as unknown as Signer;
  expect(() => logBreakerChanges(signer, {} as never)).not.toThrow();
});
