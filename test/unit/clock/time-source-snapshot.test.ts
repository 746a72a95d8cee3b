import { describe, expect, it } from 'vitest';
import type { ClockStatus } from '../../../src/clock/clock-monitor.js';
import { timeSourceSnapshot } from '../../../src/clock/time-source-snapshot.js';

// chronyd's figures just after its source jumped 2 s: System time holds little of the jump yet,
// the selected source's last sample most of it.
const chronyStatus: ClockStatus = {
  state: 'synced',
  detail: 'chronyd is synchronised',
  rounds: 3,
  offsetMs: 120,
  accuracyMs: 2_045,
  chrony: {
    reference: '192.0.2.7',
    stratum: 2,
    authenticated: true,
    offsetMs: 120,
    sampleOffsetMs: 1_878.5,
    sampleErrorMs: 0.25,
    rootDispersionMs: 0.5,
    rootDelayMs: 1,
    boundMs: 2_043.25,
  },
};

describe('timeSourceSnapshot (what a token records of the clock)', () => {
  it("records chronyd's estimate, its last sample's offset and the bound", () => {
    expect(timeSourceSnapshot(chronyStatus, 'chrony', false)).toEqual({
      source: 'chrony',
      state: 'synced',
      reference: '192.0.2.7',
      authenticated: true,
      offsetMs: 120,
      // offsetMs + sampleOffsetMs: the source minus the local clock as that sample measured it.
      sampleOffsetMs: 1_878.5,
      boundMs: 2_043.25,
    });
  });

  it('records an SNTP round without chrony fields', () => {
    const status: ClockStatus = { state: 'synced', detail: 'ok', rounds: 1, offsetMs: -3 };
    expect(timeSourceSnapshot(status, 'sntp', true)).toEqual({
      source: 'sntp',
      state: 'synced',
      offsetMs: -3,
    });
  });
});
