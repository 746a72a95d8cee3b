import type { ClockState } from './clock-metrics.js';
import type { ChronyReading } from './chrony-client.js';
import { seconds } from './wall-clock-step.js';

/** chronyd's bounds are often far below 10 ms, where `seconds` would print 0 s. */
const amount = (ms: number) => (ms < 1000 ? `${Number(ms.toPrecision(2))} ms` : seconds(ms));

/** What chronyd said about its selected source: the evidence behind the gate's state. */
export interface ChronyEvidence {
  /** The selected source's address (or refclock name). */
  reference: string;
  stratum: number;
  /** The selected source is NTS-authenticated (chrony drops unauthenticated replies of an NTS source). */
  authenticated: boolean;
  /** Server (true time) minus local, ms: chrony's "System time". */
  offsetMs: number;
  rootDispersionMs: number;
  rootDelayMs: number;
  /** |offset| + root dispersion + root delay / 2: chrony's bound on the local clock's error. */
  boundMs: number;
}

export interface ChronyVerdict {
  state: ClockState;
  /** One fixed sentence saying why. */
  detail: string;
  /** Absent when chronyd has no selected source. */
  evidence?: ChronyEvidence;
}

export interface ChronyThresholds {
  /** min(max_time_delta, token accuracy), in ms. */
  thresholdMs: number;
  /** --require-nts: a selected source that is not NTS-authenticated counts as unverified. */
  requireNts: boolean;
}

/**
 * The clock's state from one reading of chronyd:
 * - unverified: no selected source (none reachable, or all rejected), chronyd's leap status says
 *   unsynchronised (alarm), or, with --require-nts, the selected source is not NTS-authenticated;
 * - synced: |offset| + root dispersion + root delay / 2 (chronyc's documented bound on the clock
 *   error, assuming the stratum-1 server is right) within the threshold;
 * - drifted: beyond it.
 */
export function chronyVerdict(
  { tracking, sources, authdata }: ChronyReading,
  { thresholdMs, requireNts }: ChronyThresholds,
): ChronyVerdict {
  const selected = sources.find((source) => source.state === '*' && source.reach !== 0);
  if (!selected) return { state: 'unverified', detail: 'chronyd has no selected time source' };
  if (tracking.leapStatus === 'Not synchronised') {
    return { state: 'unverified', detail: 'chronyd reports its clock as not synchronised' };
  }
  const authenticated = authdata.some(
    (entry) => entry.name === selected.name && entry.mode === 'NTS',
  );
  const offsetMs = tracking.systemTime * 1000;
  const rootDispersionMs = tracking.rootDispersion * 1000;
  const rootDelayMs = tracking.rootDelay * 1000;
  const evidence: ChronyEvidence = {
    reference: selected.name,
    stratum: tracking.stratum,
    authenticated,
    offsetMs,
    rootDispersionMs,
    rootDelayMs,
    boundMs: Math.abs(offsetMs) + rootDispersionMs + rootDelayMs / 2,
  };
  const source = `${selected.name} (stratum ${tracking.stratum}, ${authenticated ? 'NTS-authenticated' : 'not authenticated'})`;
  if (requireNts && !authenticated) {
    return {
      state: 'unverified',
      detail: `chronyd's selected source ${source} is not NTS-authenticated and NTS is required`,
      evidence,
    };
  }
  if (evidence.boundMs <= thresholdMs) {
    return {
      state: 'synced',
      detail: `chronyd's source ${source} bounds the local clock's error to ${amount(evidence.boundMs)}, within ${seconds(thresholdMs)}`,
      evidence,
    };
  }
  return {
    state: 'drifted',
    detail: `local clock differs from chronyd's source ${source} by up to ${amount(evidence.boundMs)}, more than ${seconds(thresholdMs)}`,
    evidence,
  };
}
