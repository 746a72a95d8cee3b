import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { Signer } from '../crypto/signer.js';
import { CircuitBreaker } from '../signers/kms/circuit-breaker.js';

/** While a breaker stays open (each probe fails), a reminder at most this often. */
export const BREAKER_REMINDER_MS = 5 * 60_000;

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/**
 * Logs the circuit breaker of a remote or HSM signer as it opens and closes: the requests it
 * refuses meanwhile are warnings (server/request-log.ts), so these lines say when issuance stopped
 * and resumed. The failed requests' own lines (errors, with their cause) say why. `named` prefixes
 * a profile's lines. A signer without a breaker is left alone.
 */
export function logBreakerChanges(
  signer: Signer,
  logger: Pick<FastifyBaseLogger, 'error' | 'warn' | 'info'>,
  named = '',
  now: () => number = () => performance.now(),
): void {
  const { breaker } = signer as { breaker?: unknown };
  if (!(breaker instanceof CircuitBreaker)) return;
  let remindedAt = 0;
  let failedProbes = 0;
  breaker.onChange = (change) => {
    const signerName = `${named}signer ${signer.id}`;
    if (change.state === 'closed') {
      logger.info(
        `${signerName} answers again: circuit breaker closed after ${seconds(change.openForMs)} s open; issuance resumes`,
      );
    } else if (!change.reopened) {
      remindedAt = now();
      failedProbes = 0;
      logger.error(
        `${signerName} unavailable: circuit breaker opened after ${change.failures} consecutive failures; ` +
          'issuance refused until a probe request succeeds (check the service, the network and the credentials)',
      );
    } else {
      failedProbes++;
      if (now() - remindedAt < BREAKER_REMINDER_MS) return;
      logger.warn(
        { failedProbes },
        `${signerName} still unavailable: circuit breaker open, each probe failing`,
      );
      remindedAt = now();
      failedProbes = 0;
    }
  };
}
