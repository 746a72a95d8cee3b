import type { ClockState } from './clock-metrics.js';
import type {
  ChronyAuthData,
  ChronyReading,
  ChronySource,
  ChronyTracking,
} from './chrony-client.js';
import { seconds } from './wall-clock-step.js';

/** chronyd's bounds are often far below 10 ms, where `seconds` would print 0 s. */
const amount = (ms: number) => (ms < 1000 ? `${Number(ms.toPrecision(2))} ms` : seconds(ms));

/** What chronyd said about its selected source: the evidence behind the gate's state. */
export interface ChronyEvidence {
  /** The selected source's address (or refclock name). */
  reference: string;
  stratum: number;
  /**
   * Every source chronyd's estimate rests on is NTS-authenticated: the selected one and those it
   * combines with it (chrony drops unauthenticated replies of an NTS source).
   */
  authenticated: boolean;
  /** When one is not: the first such (the selected source, else a combined one). */
  unauthenticated?: string;
  /** Server (true time) minus local, ms, as chronyd estimates it: chrony's "System time". */
  offsetMs: number;
  /**
   * The selected source minus chronyd's estimate at the source's last sample, ms (chronyc prints
   * the opposite sign), adjusted for chronyd's corrections since: what offsetMs has not absorbed
   * of that sample yet. Microseconds in steady state; after a step, much of the step.
   */
  sampleOffsetMs: number;
  /** That sample's error (its root distance), ms. */
  sampleErrorMs: number;
  rootDispersionMs: number;
  rootDelayMs: number;
  /** The bound on the local clock's error (see chronyBoundMs). */
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
 * The bound on the local clock's error, ms. That error is the sum of three parts: the local clock
 * from chronyd's estimate (System time); the estimate from the selected source at its last sample
 * (the sample's adjusted offset, give or take its error); and the source from true time, within
 * chronyd's root dispersion + root delay / 2. By the triangle inequality the sum of the parts'
 * magnitudes bounds it whatever their signs (chrony's two offsets have opposite signs, and may
 * cancel or add). chrony's own bound, |System time| + root dispersion + root delay / 2, leaves out
 * the middle part, which after a sudden offset change (a step) holds what chronyd's first updates
 * have not yet absorbed: up to most of the step.
 */
export function chronyBoundMs(tracking: ChronyTracking, selected: ChronySource): number {
  const parts = [
    Math.abs(tracking.systemTime),
    Math.abs(selected.sampleOffset),
    selected.sampleError,
    tracking.rootDispersion,
    tracking.rootDelay / 2,
  ];
  return parts.reduce((sum, part) => sum + part, 0) * 1000;
}

/**
 * The first source chronyd's estimate rests on that is not NTS-authenticated: the selected one,
 * then those combined with it (`+`). chronyd's System time is a weighted combination of them all,
 * and with its default authselectmode, mix, unauthenticated sources that agree are combined too.
 */
function firstUnauthenticated(
  selected: ChronySource,
  sources: readonly ChronySource[],
  authdata: readonly ChronyAuthData[],
): ChronySource | undefined {
  const nts = new Set(authdata.filter(({ mode }) => mode === 'NTS').map(({ name }) => name));
  const combined = sources.filter(({ state }) => state === '+');
  return [selected, ...combined].find(({ name }) => !nts.has(name));
}

/** How the verdict's detail describes the selected source's authentication. */
function authentication(selected: ChronySource, unauthenticated: ChronySource | undefined): string {
  if (!unauthenticated) return 'NTS-authenticated';
  if (unauthenticated === selected) return 'not authenticated';
  return `NTS-authenticated, combined with unauthenticated ${unauthenticated.name}`;
}

/**
 * The clock's state from one reading of chronyd:
 * - unverified: no selected source (none reachable, or all rejected), chronyd's leap status says
 *   unsynchronised (alarm), or, with --require-nts, the selected source or one combined with it
 *   is not NTS-authenticated;
 * - synced: the bound (chronyBoundMs: chronyc's documented bound on the clock error, assuming
 *   the stratum-1 server is right, plus the selected source's last sample) within the threshold;
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
  const unauthenticated = firstUnauthenticated(selected, sources, authdata);
  const offsetMs = tracking.systemTime * 1000;
  const rootDispersionMs = tracking.rootDispersion * 1000;
  const rootDelayMs = tracking.rootDelay * 1000;
  const evidence: ChronyEvidence = {
    reference: selected.name,
    stratum: tracking.stratum,
    authenticated: !unauthenticated,
    ...(unauthenticated ? { unauthenticated: unauthenticated.name } : {}),
    offsetMs,
    // `|| 0`: a sample offset of 0 is +0 here, not -0.
    sampleOffsetMs: -selected.sampleOffset * 1000 || 0,
    sampleErrorMs: selected.sampleError * 1000,
    rootDispersionMs,
    rootDelayMs,
    boundMs: chronyBoundMs(tracking, selected),
  };
  const source = `${selected.name} (stratum ${tracking.stratum}, ${authentication(selected, unauthenticated)})`;
  if (requireNts && unauthenticated) {
    return {
      state: 'unverified',
      detail:
        unauthenticated === selected
          ? `chronyd's selected source ${source} is not NTS-authenticated and NTS is required`
          : `chronyd combines source ${unauthenticated.name}, which is not NTS-authenticated, with its selected source ${selected.name} (stratum ${tracking.stratum}), and NTS is required`,
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
