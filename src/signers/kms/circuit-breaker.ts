import { performance } from 'node:perf_hooks';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit; 0 disables the breaker. */
  threshold: number;
  /** How long an open circuit refuses calls before it lets one probe through. */
  cooldownMs: number;
  /**
   * A monotonic clock in ms (default performance.now): the wall clock is stepped (NTP, chronyd
   * at start), and a step back while open would lengthen the cool-down by the step.
   */
  now?: () => number;
}

/** A change of an enabled breaker: it opened (again, after a failed probe: `reopened`), or closed. */
export type CircuitChange =
  { state: 'open'; failures: number; reopened: boolean } | { state: 'closed'; openForMs: number };

/** The verdict on one admitted call; the first one given counts, later ones are ignored. */
export interface CircuitCall {
  /** The service answered (a signature, or a definite refusal such as a 4xx or throttling). */
  answered(): void;
  /** The service is unavailable: timeout, 5xx, connection reset, unusable answer. */
  failed(): void;
  /** The caller gave up: says nothing about the service. */
  abandoned(): void;
}

/**
 * A circuit breaker in front of a remote service: after `threshold` consecutive failures it opens
 * and refuses calls without making them; after `cooldownMs` it is half-open and admits one probe,
 * whose answer closes it and whose failure opens it for another cool-down.
 *
 * The cool-down ends by itself (read from the clock, no timer), so a server whose readiness
 * follows `refusal()` becomes ready again and receives the request that probes: a breaker that
 * kept /readyz red until a probe succeeded would never be probed behind a load balancer.
 */
export class CircuitBreaker {
  private readonly now: () => number;
  private failures = 0;
  private openedAt: number | undefined;
  private probeInFlight = false;
  /** Incremented each time the circuit opens. */
  private generation = 0;
  /** When it opened after being closed (a failed probe re-opens it without moving this). */
  private openSince = 0;
  /** Told of each opening and closing (the runtime logs them: runtime/breaker-log.ts). */
  onChange: ((change: CircuitChange) => void) | undefined;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt < this.options.cooldownMs ? 'open' : 'half-open';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * How long a call made now would still be refused, as far as the breaker knows: an open
   * circuit's cool-down left; PROBE_WAIT_MS while a half-open circuit's probe is in flight (its
   * answer, a call's time away, closes or re-opens it); undefined when a call would be admitted.
   */
  get refusedForMs(): number | undefined {
    if (this.openedAt === undefined) return undefined;
    const left = this.openedAt + this.options.cooldownMs - this.now();
    if (left > 0) return left;
    return this.probeInFlight ? PROBE_WAIT_MS : undefined;
  }

  /** Why a call made now would be refused, or undefined if it would be admitted. */
  refusal(): string | undefined {
    const state = this.state;
    if (state === 'open') {
      return `remote signer unavailable: circuit breaker open after ${this.failures} consecutive failures`;
    }
    if (state === 'half-open' && this.probeInFlight) {
      return 'remote signer unavailable: circuit breaker half-open, probe in flight';
    }
    return undefined;
  }

  /** Admits a call (the probe, when half-open), or returns undefined to refuse it. */
  enter(): CircuitCall | undefined {
    if (this.options.threshold <= 0) return IGNORED;
    if (this.refusal()) return undefined;
    const probe = this.state === 'half-open';
    if (probe) this.probeInFlight = true;
    const generation = this.generation;
    let settled = false;
    const settle = (verdict: () => void) => () => {
      if (settled) return;
      settled = true;
      if (probe) this.probeInFlight = false;
      // A call admitted before the circuit opened (or re-opened) says nothing about it now.
      if (probe || (this.openedAt === undefined && generation === this.generation)) verdict();
    };
    return {
      answered: settle(() => {
        this.failures = 0;
        if (this.openedAt === undefined) return;
        this.openedAt = undefined;
        this.onChange?.({ state: 'closed', openForMs: this.now() - this.openSince });
      }),
      failed: settle(() => {
        this.failures++;
        if (probe || this.failures >= this.options.threshold) {
          this.openedAt = this.now();
          if (!probe) this.openSince = this.openedAt;
          this.generation++;
          this.onChange?.({ state: 'open', failures: this.failures, reopened: probe });
        }
      }),
      abandoned: settle(() => {}),
    };
  }
}

/** What a refusal while the probe is in flight asks clients to wait: the probe's answer is near. */
export const PROBE_WAIT_MS = 1_000;

const IGNORED: CircuitCall = { answered() {}, failed() {}, abandoned() {} };
