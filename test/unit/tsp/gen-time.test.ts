import { describe, expect, it } from 'vitest';
import { createClockGate } from '../../../src/clock/clock-gate.js';
import { ClockMonitor } from '../../../src/clock/clock-monitor.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { genTimeFor } from '../../../src/tsp/gen-time.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { defaultAuthority } from '../../helpers/authority.js';
import { ONE_SERVER_SETTINGS } from '../../helpers/clock-settings.js';
import { decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';

const NOON = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('genTime', () => {
  it('rounds to the nearest second for a fixed accuracy of whole seconds', () => {
    const at = (ms: number, accuracyMs: number | undefined) =>
      genTimeFor(NOON + ms, accuracyMs).getTime() - NOON;
    expect([0, 499, 500, 999].map((ms) => at(ms, 1000))).toEqual([0, 0, 1000, 1000]);
    expect(at(-1, 2000)).toBe(0);
    // A fraction of a second, or a measured accuracy: to the millisecond.
    expect([at(999, 250), at(999, undefined)]).toEqual([999, 999]);
  });
});

describe('a fixed accuracy of whole seconds: |true time - genTime| <= the declared accuracy', () => {
  /** A token issued with the local clock `behindMs` behind true time, gated by a round that measured it. */
  async function issue(trueTime: number, behindMs: number) {
    const local = () => trueTime - behindMs;
    const monitor = new ClockMonitor({
      ...ONE_SERVER_SETTINGS,
      now: local,
      monotonic: () => 0,
      query: () =>
        Promise.resolve({
          offsetMs: behindMs,
          delayMs: 2,
          errorBoundMs: 10,
          leapIndicator: 0,
          stratum: 1,
          serverTimeMs: trueTime,
        }),
    });
    const state = (await monitor.runRound()).state;
    const { signer, chain } = await createMemorySigner('sha256');
    const tsa = defaultAuthority(signer, chain.map(parseCertificate), {
      now: local,
      guards: [createClockGate(monitor, { requireTimeSync: true })],
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    if (outcome.status !== 'granted') return { state };
    const tstInfo = decodeResponse(outcome.der).tstInfo!;
    const accuracyMs = (tstInfo.accuracy!.seconds ?? 0) * 1000 + (tstInfo.accuracy!.millis ?? 0);
    return { state, errorMs: Math.abs(trueTime - tstInfo.genTime.getTime()), accuracyMs };
  }

  it('refuses a clock 950 ms off, which a truncated genTime made 1.94 s off declaring 1 s', async () => {
    const refused = await issue(NOON + 940, 950);
    expect(refused).toEqual({ state: 'drifted' });
  });

  it('holds at every phase of the second, for clocks off within the 0.5 s threshold', async () => {
    for (const phase of [0, 1, 250, 489, 490, 500, 501, 750, 999]) {
      for (const behindMs of [-489, -250, 0, 250, 489]) {
        const token = await issue(NOON + phase, behindMs);
        expect(token.state, `phase ${phase}, ${behindMs} ms behind`).toBe('synced');
        expect(token.errorMs, `phase ${phase}, ${behindMs} ms behind`).toBeLessThanOrEqual(
          token.accuracyMs!,
        );
      }
    }
  });
});
