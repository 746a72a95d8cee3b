import type { ClockState } from './clock-metrics.js';
import type { NtpServerAddress } from './server-address.js';
import { MAX_ROOT_DISTANCE_MS, type SntpSample } from './sntp-client.js';
import { seconds } from './wall-clock-step.js';

/** A usable answer of one server in a round. */
export interface ServerSample {
  server: NtpServerAddress;
  sample: SntpSample;
}

export interface VerdictThresholds {
  /** min(max_time_delta, token accuracy), in ms. */
  thresholdMs: number;
  /** Servers that must answer and agree (server_threshold). */
  serverThreshold: number;
  /** Servers asked per round (num_servers). */
  numServers: number;
}

export interface ClockVerdict {
  state: ClockState;
  /** One fixed sentence saying why. */
  detail: string;
  /** Median offset (server minus local, ms) of the samples; absent when there are none. */
  offsetMs?: number;
  /**
   * When synced: the largest |offset| + root distance among the agreeing servers, the bound on the local
   * clock's error this round measured (--accuracy auto).
   */
  boundMs?: number;
  /** Go's err_too_few: fewer usable answers than server_threshold. */
  tooFewAnswers: boolean;
  /** Go's err_inv_time: fewer agreeing servers than server_threshold. */
  tooFewAgreeing: boolean;
  /** The samples outside the threshold, in the order given. */
  disagreeing: ServerSample[];
}

/**
 * Whether an answer is usable: its root distance is within both the threshold and RFC 5905's
 * MAXDIST (it can tell agreement from disagreement), or the clock is off by more than the threshold
 * even at the near end of its interval (|offset| - root distance > threshold: it proves the clock
 * off, however wide the interval). An answer that can do neither is no usable answer; one that
 * proves the clock off must never be dropped, or a clock far off would read as unverified
 * (tokens issued) instead of drifted.
 */
export function decides(sample: SntpSample, thresholdMs: number): boolean {
  const { offsetMs, errorBoundMs } = sample;
  if (Math.abs(offsetMs) - errorBoundMs > thresholdMs) return true;
  return errorBoundMs <= Math.min(thresholdMs, MAX_ROOT_DISTANCE_MS);
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The clock's state after a round, from the answers (kiss-o'-death and alarm answers count as
 * none; see `decides` for an answer whose root distance is too large):
 * - synced: at least server_threshold servers agree within the threshold;
 * - drifted: enough servers answered usably, too few agree;
 * - unverified: too few usable answers.
 * A server agrees only when |offset| + its root distance (delay/2 + root delay/2 + root
 * dispersion: the worst case of its measurement) stays within the threshold.
 */
export function clockVerdict(
  answers: readonly ServerSample[],
  { thresholdMs, serverThreshold, numServers }: VerdictThresholds,
): ClockVerdict {
  const samples = answers.filter(({ sample }) => decides(sample, thresholdMs));
  const disagreeing = samples.filter(
    ({ sample }) => !(Math.abs(sample.offsetMs) + sample.errorBoundMs <= thresholdMs),
  );
  const agreeing = samples.length - disagreeing.length;
  const tooFewAnswers = serverThreshold > samples.length;
  const tooFewAgreeing = serverThreshold > agreeing;
  const offsetMs = median(samples.map(({ sample }) => sample.offsetMs));
  const threshold = seconds(thresholdMs);
  const verdict = (state: ClockState, detail: string): ClockVerdict => ({
    state,
    detail,
    ...(offsetMs === undefined ? {} : { offsetMs }),
    tooFewAnswers,
    tooFewAgreeing,
    disagreeing,
  });
  if (!tooFewAgreeing) {
    const bounds = samples
      .filter((sample) => !disagreeing.includes(sample))
      .map(({ sample }) => Math.abs(sample.offsetMs) + sample.errorBoundMs);
    return {
      ...verdict(
        'synced',
        `${agreeing} of ${numServers} NTP servers agree with the local clock within ${threshold}`,
      ),
      boundMs: Math.max(...bounds),
    };
  }
  if (!tooFewAnswers) {
    return verdict(
      'drifted',
      `local clock differs from ${disagreeing.length} of ${samples.length} NTP servers by more than ${threshold} (median offset ${seconds(offsetMs ?? 0)})`,
    );
  }
  return verdict(
    'unverified',
    `only ${samples.length} of ${numServers} NTP servers gave a usable answer, ${serverThreshold} needed`,
  );
}
