import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics/registry.js';

/**
 * The Go server's NTP metrics. The latency keeps Go's unit, nanoseconds (with the default buckets
 * meant for seconds, as Go: read _sum / _count); `_seconds` has it in the Prometheus base unit.
 */
export const ntpLatency = new Histogram({
  name: 'timestamp_authority_ntp_latency',
  help: 'NTP request latency in nanoseconds, per attempt (the Go server unit)',
  labelNames: ['host'] as const,
  registers: [registry],
});

export const ntpLatencySeconds = new Histogram({
  name: 'timestamp_authority_ntp_latency_seconds',
  help: 'NTP request latency in seconds, per attempt',
  labelNames: ['host'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** Records one NTP attempt's latency in both units. */
export function observeNtpLatency(host: string, milliseconds: number): void {
  ntpLatency.observe({ host }, milliseconds * 1e6);
  ntpLatencySeconds.observe({ host }, milliseconds / 1000);
}

export const ntpSyncTotal = new Counter({
  name: 'timestamp_authority_ntp_sync_total',
  help: 'NTP requests to a server, one per attempt',
  labelNames: ['host', 'failed'] as const,
  registers: [registry],
});

/**
 * reason: err_too_few (too few servers answered), err_inv_time (too few agreed), err_clock_jump
 * (a wall-clock step put the bound past the threshold), err_stale_bound (its age did).
 */
export const ntpErrorsTotal = new Counter({
  name: 'timestamp_authority_ntp_errors_total',
  help: 'NTP monitoring errors',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const ntpOffset = new Gauge({
  name: 'timestamp_authority_ntp_offset_seconds',
  help: 'Median offset of the NTP servers from the local clock in the last round (server minus local)',
  registers: [registry],
});

export const CLOCK_STATES = ['synced', 'drifted', 'unverified'] as const;
export type ClockState = (typeof CLOCK_STATES)[number];

/** 1 for the current state, 0 for the others. */
export const clockStateGauge = new Gauge({
  name: 'timestamp_authority_clock_state',
  help: 'Clock gate state: synced, drifted (issuance refused) or unverified',
  labelNames: ['state'] as const,
  registers: [registry],
});

export function recordClockState(state: ClockState): void {
  for (const each of CLOCK_STATES) clockStateGauge.set({ state: each }, each === state ? 1 : 0);
}

/** With --time-source chrony: the selected source (label reference), 1 if NTS-authenticated, else 0. */
export const timeSourceAuthenticated = new Gauge({
  name: 'timestamp_authority_time_source_authenticated',
  help: "Whether chronyd's selected source is NTS-authenticated (1) or not (0), per source address",
  labelNames: ['reference'] as const,
  registers: [registry],
});

export const timeSourceRootDispersion = new Gauge({
  name: 'timestamp_authority_time_source_root_dispersion_seconds',
  help: "chronyd's root dispersion of its selected source in the last reading",
  registers: [registry],
});

export const clockErrorBound = new Gauge({
  name: 'timestamp_authority_clock_error_bound_seconds',
  help: "Bound on the local clock's error in the last chronyd reading, as read: |System time| + |last sample offset| + sample error + root dispersion + root delay / 2 (the gate then widens it by 15 ppm of its age and by wall-clock steps)",
  registers: [registry],
});

/**
 * No value: NaN, Prometheus' "unknown" (a label-less prom-client gauge reset reads 0, which would
 * claim a perfect clock).
 */
export function clearGauge(gauge: Gauge): void {
  gauge.set(Number.NaN);
}

/**
 * The clock's measured figures (offset, chronyd's bound and root dispersion) as unknown (NaN): no
 * evidence, or a step of the wall clock since, which they no longer describe.
 */
export function clearClockMeasurements(): void {
  for (const gauge of [ntpOffset, timeSourceRootDispersion, clockErrorBound]) clearGauge(gauge);
}
// Unknown until measured: before the first round, with --disable-ntp-monitoring, and (the bound
// and root dispersion) with SNTP, which measures neither.
clearClockMeasurements();

/**
 * Records one reading of chronyd; without evidence (chronyd unreadable, or no selected source) the
 * offset, bound and source gauges are cleared (NaN) rather than left at the last good reading.
 */
export function recordChronyEvidence(
  evidence:
    | {
        reference: string;
        authenticated: boolean;
        offsetMs: number;
        rootDispersionMs: number;
        boundMs: number;
      }
    | undefined,
): void {
  timeSourceAuthenticated.reset();
  if (!evidence) {
    clearClockMeasurements();
    return;
  }
  timeSourceAuthenticated.set({ reference: evidence.reference }, evidence.authenticated ? 1 : 0);
  ntpOffset.set(evidence.offsetMs / 1000);
  timeSourceRootDispersion.set(evidence.rootDispersionMs / 1000);
  clockErrorBound.set(evidence.boundMs / 1000);
}

/** The NTP monitor's metrics: in a cluster only the primary runs the monitor, so only it reports them. */
export const CLOCK_METRICS = [
  ntpLatency,
  ntpLatencySeconds,
  ntpSyncTotal,
  ntpErrorsTotal,
  ntpOffset,
  clockStateGauge,
  timeSourceAuthenticated,
  timeSourceRootDispersion,
  clockErrorBound,
];
