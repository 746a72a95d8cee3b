import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics/registry.js';

/** The Go server's NTP metrics (latency in seconds, where Go recorded nanoseconds). */
export const ntpLatency = new Histogram({
  name: 'timestamp_authority_ntp_latency',
  help: 'NTP request latency in seconds, per attempt',
  labelNames: ['host'] as const,
  registers: [registry],
});

export const ntpSyncTotal = new Counter({
  name: 'timestamp_authority_ntp_sync_total',
  help: 'NTP requests to a server, one per attempt',
  labelNames: ['host', 'failed'] as const,
  registers: [registry],
});

/** reason: err_too_few (too few servers answered), err_inv_time (too few agreed), err_clock_jump. */
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

/** The NTP monitor's metrics: in a cluster only the primary runs the monitor, so only it reports them. */
export const CLOCK_METRICS = [ntpLatency, ntpSyncTotal, ntpErrorsTotal, ntpOffset, clockStateGauge];
