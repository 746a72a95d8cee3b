import { MILLISECOND_GEN_TIME_ERROR_MS } from '../tsp/gen-time.js';
import { clockDivergenceDetail, seconds } from './wall-clock-step.js';

/**
 * RFC 5905's PHI (section 7.2, global parameter TOLERANCE), the frequency tolerance NTP assumes of
 * a local clock: 15 ppm, 15 µs a second. Between checks the clock runs on its own, so a bound on
 * its error measured t ago holds now only widened by PHI × t (as RFC 5905's dispersion grows).
 */
export const PHI = 15e-6;

/**
 * How long a verdict outlives the next round's due time (one period plus the longest a round can
 * take after it): a late timer, a busy event loop, a cluster's lost relay message (resent every
 * 5 s).
 */
export const VERDICT_MARGIN_MS = 10_000;

/**
 * A synced status's evidence, enough for any process to add to the bound what happened since on
 * its own (src/runtime/cluster/relayed-clock.ts) instead of waiting for the next relay. The
 * monotonic times are `systemMonotonicMs` (CLOCK_MONOTONIC): the same in every process.
 */
export interface VerifiedClock {
  /** The bound measured (ms). */
  readonly boundMs: number;
  /** The wall clock minus the monotonic clock when it was measured (ms). */
  readonly wallOffsetMs: number;
  /** The monotonic time it was measured at (ms): the bound grows by PHI from there. */
  readonly measuredAtMs: number;
  /** The monotonic time after which it no longer counts (ms): no round has followed it. */
  readonly expiresAtMs: number;
  /** Beyond this bound (ms) the clock is drifted. */
  readonly thresholdMs: number;
  /** --accuracy auto: tokens declare the bound plus the steps since. */
  readonly declaresBound: boolean;
  /** The accuracy tokens declare once it has expired (nothing measured). */
  readonly unmeasuredAccuracyMs: number;
}

/** The bound now, and what widened it since the measurement. */
export interface CurrentBound {
  /** The measured bound + the wall clock's net steps since + PHI × the time since (ms). */
  boundMs: number;
  /** How far the wall clock's offset from the monotonic clock moved since (ms). */
  divergenceMs: number;
  /** Monotonic time since the measurement (ms). */
  ageMs: number;
}

/** The bound `verified` gives at `monotonicMs`, with the wall clock `wallOffsetMs` off. */
export function currentBound(
  verified: VerifiedClock,
  wallOffsetMs: number,
  monotonicMs: number,
): CurrentBound {
  const divergenceMs = Math.abs(wallOffsetMs - verified.wallOffsetMs);
  const ageMs = Math.max(0, monotonicMs - verified.measuredAtMs);
  return { boundMs: verified.boundMs + divergenceMs + PHI * ageMs, divergenceMs, ageMs };
}

/** Whether the wall clock's steps since the measurement, not its age, put the bound past the threshold. */
export function steppedBeyond(
  { boundMs, thresholdMs }: Pick<VerifiedClock, 'boundMs' | 'thresholdMs'>,
  { divergenceMs }: CurrentBound,
): boolean {
  return boundMs + divergenceMs > thresholdMs;
}

/**
 * Why a verified bound no longer holds within the threshold: the steps since, or its age; `next`,
 * what the monitor does about it (a round at once, or none before the next period).
 */
export function beyondThresholdDetail(
  verified: Pick<VerifiedClock, 'boundMs' | 'thresholdMs'>,
  bound: CurrentBound,
  next: 're-verifying' | 'until a reading brings newer evidence',
): string {
  const { thresholdMs } = verified;
  if (steppedBeyond(verified, bound)) return clockDivergenceDetail(bound.divergenceMs, thresholdMs);
  return (
    `the bound measured ${seconds(bound.ageMs)} ago, widened by 15 ppm since (RFC 5905's PHI) ` +
    `and by the steps since, is beyond ${seconds(thresholdMs)}; ${next}`
  );
}

/**
 * What a token declares under --accuracy auto for a bound: rounded up to the millisecond, plus
 * genTime's own (it is read to the millisecond, truncated: tsp/gen-time.ts).
 */
export function accuracyForBound(boundMs: number): number {
  return Math.ceil(boundMs) + MILLISECOND_GEN_TIME_ERROR_MS;
}

export const VERDICT_EXPIRED_DETAIL =
  'no clock check has completed within a period of the last synced one: its verdict has expired';
