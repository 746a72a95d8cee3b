import type { TimeSourceSnapshot } from '../tsp/time-source.js';
import type { ClockStatus } from './clock-monitor.js';

/**
 * What a token records of the clock at issuance (tsp/time-source.ts), from the gate's status.
 * `followAccuracy` (--accuracy auto): the token declares the status's accuracy.
 */
export function timeSourceSnapshot(
  status: ClockStatus,
  source: TimeSourceSnapshot['source'],
  followAccuracy: boolean,
): TimeSourceSnapshot {
  const { chrony } = status;
  return {
    source,
    state: status.state,
    ...(chrony ? { reference: chrony.reference, authenticated: chrony.authenticated } : {}),
    ...(status.offsetMs === undefined ? {} : { offsetMs: status.offsetMs }),
    ...(chrony ? { sampleOffsetMs: chrony.sampleOffsetMs, boundMs: chrony.boundMs } : {}),
    ...(followAccuracy && status.accuracyMs !== undefined ? { accuracyMs: status.accuracyMs } : {}),
  };
}
