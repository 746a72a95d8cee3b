import { describe, expect, it } from 'vitest';
import {
  ChronyError,
  parseChronycOutput,
  parseTracking,
  readChrony,
  type ChronyReading,
} from '../../../src/clock/chrony-client.js';
import { chronyVerdict } from '../../../src/clock/chrony-verdict.js';
import { createClockGate } from '../../../src/clock/clock-gate.js';
import {
  clockErrorBound,
  ntpErrorsTotal,
  ntpOffset,
  timeSourceRootDispersion,
} from '../../../src/clock/clock-metrics.js';
import { timeSourceSnapshot } from '../../../src/clock/time-source-snapshot.js';
import { chronyMonitorOn } from '../../helpers/chrony-monitor.js';

/** Real `chronyc -c -n -m tracking sources authdata` output of chrony 4.3 (an NTS source). */
const SYNCED = [
  '7F000001,127.0.0.1,9,1796403887.850427866,-0.000002412,0.000000465,0.000000236,-0.952,0.197,8.034,0.000008909,0.000003317,0.0,Normal',
  '^,*,127.0.0.1,8,-6,377,0,0.000000196,0.000000660,0.000004491',
  '127.0.0.1,NTS,1,15,256,3,0,0,8,100',
  '',
].join('\n');

/** chronyd -x following a server 30 s ahead: "System time" is the free-running clock's offset. */
const AHEAD = [
  '7F000001,127.0.0.1,9,1796403949.897404430,30.000000000,0.000000012,3.489296198,-0.305,0.001,0.200,0.000023831,0.000002031,0.8,Normal',
  '^,*,127.0.0.1,8,-6,377,1,-0.000008932,-0.000008920,0.000013312',
  '127.0.0.1,NTS,2,15,256,13,0,0,8,100',
].join('\n');

/** The NTS source unreachable (?), a plain one selected. */
const FALLBACK = [
  '7F000002,127.0.0.2,9,1796403949.897404430,0.000100000,0,0,0,0,0,0.000200000,0.000300000,1.0,Normal',
  '^,?,127.0.0.1,8,0,0,3,0.000000461,0.000000495,0.000004779',
  '^,*,127.0.0.2,8,-6,377,1,0,0,0.00001',
  '127.0.0.1,NTS,1,15,256,4,1,0,0,0',
  '127.0.0.2,-,0,0,0,0,0,0,0,0',
].join('\n');

const UNREACHABLE = [
  '7F000001,127.0.0.1,9,1796403889.451760830,-0.000002713,0,0,0.354,-0.010,0.617,0.000007158,0.000003861,0.0,Normal',
  '^,?,127.0.0.1,8,0,0,1,0.000000344,0.000000332,0.000004304',
  '127.0.0.1,NTS,1,15,256,7,1,0,0,0',
].join('\n');

/** A chronyd just started whose one plain source never answered (real chrony 4.3 output). */
const NEVER_SYNCED = [
  '00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised',
  '^,?,127.0.0.1,0,0,0,4294967295,0.000000000,0.000000000,0.000000000',
  '127.0.0.1,-,0,0,0,4294967295,0,0,0,0',
].join('\n');

/**
 * chronyd -x's first update after its one source jumped 2 s ahead of the local clock (real chrony
 * 4.3 output, through a relay switched to a server under faketime): System time has taken in
 * 0.36 s of it; the last sample, measured -2.0 s (the local clock behind), still holds -1.64 s
 * after that correction. chrony's own bound, 0.36 + 0.39 + 0.0005 s, is under the 2 s error.
 */
const JUMPED_AHEAD = [
  '7F000001,127.0.0.1,9,1796593599.856713286,0.360370278,-0.360166043,0.113894574,-3.601,-48155.961,12.234,0.001017529,0.391825259,2.0,Normal',
  '^,*,127.0.0.1,8,1,377,1,-1.639924645,-2.000090599,0.000508857',
  '127.0.0.1,-,0,0,0,0,0,0,0,0',
].join('\n');

/** The same after a jump 2 s behind (the local clock ahead): the signs turn, the sum does not. */
const JUMPED_BEHIND = [
  '7F000001,127.0.0.1,9,1796594164.867315531,-0.127128854,0.127313107,0.040260069,-4.128,18125.596,30.265,0.002481781,0.253425121,2.0,Normal',
  '^,*,127.0.0.1,8,1,377,0,1.871808648,1.999121785,0.001241041',
  '127.0.0.1,-,0,0,0,0,0,0,0,0',
].join('\n');

/**
 * chronyd's default authselectmode (mix): the NTS source selected, a plain one (127.0.0.3)
 * combined with it into System time, another (127.0.0.2) not (real chrony 4.3 output).
 */
const MIXED = [
  '7F000001,127.0.0.1,9,1796594579.499370036,-0.000001238,-0.000000008,0.000000304,0.001,-0.002,0.165,0.000006330,0.000000827,0.0,Normal',
  '^,*,127.0.0.1,8,-6,377,0,0.000001924,0.000001916,0.000005667',
  '^,?,127.0.0.2,8,-6,377,0,0.000001431,0.000001423,0.000004587',
  '^,+,127.0.0.3,8,-6,377,0,0.000000738,0.000000738,0.000003385',
  '127.0.0.1,NTS,1,15,256,1,0,0,8,100',
  '127.0.0.2,-,0,0,0,4294967295,0,0,0,0',
  '127.0.0.3,-,0,0,0,4294967295,0,0,0,0',
].join('\n');

const thresholds = { thresholdMs: 1000, requireNts: false };

describe('chronyc -c output', () => {
  it('decodes tracking, sources and authdata', () => {
    const reading = parseChronycOutput(SYNCED);
    expect(reading.tracking).toEqual({
      refId: '7F000001',
      reference: '127.0.0.1',
      stratum: 9,
      refTime: 1796403887.850427866,
      systemTime: -0.000002412,
      rootDelay: 0.000008909,
      rootDispersion: 0.000003317,
      leapStatus: 'Normal',
    });
    expect(reading.sources).toEqual([
      {
        mode: '^',
        state: '*',
        name: '127.0.0.1',
        stratum: 8,
        reach: 0o377,
        sampleOffset: 0.000000196,
        sampleMeasuredOffset: 0.00000066,
        sampleError: 0.000004491,
      },
    ]);
    expect(reading.authdata).toEqual([{ name: '127.0.0.1', mode: 'NTS' }]);
    expect(parseChronycOutput(FALLBACK).sources.map(({ state }) => state)).toEqual(['?', '*']);
    expect(parseChronycOutput(FALLBACK).authdata).toHaveLength(2);
  });

  it('refuses what it cannot read, with a code', () => {
    for (const text of [
      '',
      'not,csv',
      SYNCED.replace('Normal', 'Sideways'),
      SYNCED.replace('-0.000002412', 'x'),
      SYNCED.replace(',377,', ',999,'),
      `${SYNCED}\nthree,fields,only`,
    ]) {
      expect(() => parseChronycOutput(text)).toThrow(ChronyError);
    }
    expect(() => parseTracking('1,2')).toThrow(expect.objectContaining({ code: 'CHRONYC_OUTPUT' }));
  });

  it("reads the sources' last sample, and refuses one that is not a number or has a negative error", () => {
    expect(parseChronycOutput(JUMPED_AHEAD).sources[0]).toMatchObject({
      sampleOffset: -1.639924645,
      sampleMeasuredOffset: -2.000090599,
      sampleError: 0.000508857,
    });
    /** SYNCED's source line with its last sample's three fields (offset, measured, error). */
    const sample = (fields: string) =>
      SYNCED.replace('0.000000196,0.000000660,0.000004491', fields);
    for (const fields of [
      'nan,0.000000660,0.000004491',
      '0.000000196,,0.000004491',
      '0.000000196,0.000000660,inf',
      '0.000000196,0.000000660,-0.000004491',
    ]) {
      expect(() => parseChronycOutput(sample(fields)), fields).toThrow(
        expect.objectContaining({ code: 'CHRONYC_OUTPUT' }),
      );
    }
    expect(parseChronycOutput(sample('-0.5,-0.5,0')).sources[0]!.sampleError).toBe(0);
  });

  it('refuses a negative root delay or dispersion, and a stratum outside 1-15', () => {
    /** SYNCED's tracking line with fields replaced, by index. */
    const tracking = (fields: Record<number, string>) => {
      const line = SYNCED.split('\n')[0]!.split(',');
      for (const [index, value] of Object.entries(fields)) line[Number(index)] = value;
      return [line.join(','), ...SYNCED.split('\n').slice(1)].join('\n');
    };
    // A root delay of -10 s would cancel a 5 s offset: |5| + 0 + -10 / 2 = 0, synced.
    for (const fields of [
      { 4: '5.0', 10: '-10.0' },
      { 11: '-0.000000001' },
      { 2: '0' },
      { 2: '16' },
      { 2: '2.5' },
    ]) {
      expect(() => parseChronycOutput(tracking(fields)), JSON.stringify(fields)).toThrow(
        expect.objectContaining({ code: 'CHRONYC_OUTPUT' }),
      );
    }
    for (const stratum of ['1', '15']) {
      expect(parseChronycOutput(tracking({ 2: stratum })).tracking.stratum).toBe(Number(stratum));
    }
    // Stratum 0 is what chronyd reports while unsynchronised.
    expect(parseChronycOutput(NEVER_SYNCED).tracking.stratum).toBe(0);
  });

  it('reports a chronyc that cannot reach chronyd as CHRONYC_FAILED', async () => {
    await expect(
      readChrony({ socket: '/nonexistent/chronyd.sock', timeoutMs: 5000 }),
    ).rejects.toMatchObject({ code: 'CHRONYC_FAILED' });
    await expect(
      readChrony({
        socket: '/nonexistent/chronyd.sock',
        timeoutMs: 5000,
        chronyc: '/nonexistent/chronyc',
      }),
    ).rejects.toMatchObject({ code: 'CHRONYC_FAILED' });
  });
});

describe('chronyVerdict', () => {
  it('is synced on an authenticated selected source within the threshold, with its bound', () => {
    const verdict = chronyVerdict(parseChronycOutput(SYNCED), thresholds);
    expect(verdict.state).toBe('synced');
    expect(verdict.evidence).toMatchObject({
      reference: '127.0.0.1',
      stratum: 9,
      authenticated: true,
    });
    // |offset| + |last sample's offset| + its error + root dispersion + root delay / 2
    expect(verdict.evidence!.boundMs).toBeCloseTo(
      0.002412 + 0.000196 + 0.004491 + 0.003317 + 0.008909 / 2,
      9,
    );
    expect(verdict.evidence!.offsetMs).toBeCloseTo(-0.002412, 9);
    // chronyc's sign turned to offsetMs's: the source minus chronyd's estimate.
    expect(verdict.evidence!.sampleOffsetMs).toBeCloseTo(-0.000196, 9);
    expect(verdict.evidence!.sampleErrorMs).toBeCloseTo(0.004491, 9);
    // A sample offset of 0 is 0 in the evidence (logged, audited), not -0.
    const zero = SYNCED.replace(',0.000000196,', ',0.000000000,');
    expect(
      Object.is(chronyVerdict(parseChronycOutput(zero), thresholds).evidence!.sampleOffsetMs, 0),
    ).toBe(true);
  });

  it("counts the last sample after a jump, which chronyd's System time has taken in only partly", () => {
    for (const [text, direction] of [
      [JUMPED_AHEAD, 1],
      [JUMPED_BEHIND, -1],
    ] as const) {
      const reading = parseChronycOutput(text);
      const { tracking } = reading;
      const chronysOwn =
        Math.abs(tracking.systemTime) + tracking.rootDispersion + tracking.rootDelay / 2;
      expect(chronysOwn * 1000).toBeLessThan(1000); // under the 2 s error: it would be synced
      const verdict = chronyVerdict(reading, { ...thresholds, thresholdMs: 1900 });
      expect(verdict.state).toBe('drifted');
      expect(verdict.evidence!.boundMs).toBeGreaterThan(2000);
      // offsetMs + sampleOffsetMs: the source minus the local clock, within the sample's error.
      const { offsetMs, sampleOffsetMs, sampleErrorMs } = verdict.evidence!;
      expect(Math.abs(offsetMs + sampleOffsetMs - direction * 2000)).toBeLessThan(sampleErrorMs);
    }
  });

  it('is drifted when the bound exceeds the threshold, positive offset: the local clock is slow', () => {
    const verdict = chronyVerdict(parseChronycOutput(AHEAD), thresholds);
    expect(verdict.state).toBe('drifted');
    expect(verdict.evidence!.offsetMs).toBe(30_000);
    expect(verdict.detail).toContain('more than 1 s');
  });

  it('counts root dispersion and delay: an offset within the threshold may still be drifted', () => {
    const reading = parseChronycOutput(SYNCED);
    const loose: ChronyReading = {
      ...reading,
      tracking: { ...reading.tracking, systemTime: 0.9, rootDispersion: 0.05, rootDelay: 0.2 },
    };
    expect(chronyVerdict(loose, thresholds).state).toBe('drifted');
    // 900 + 50 + 100 ms, and the last sample's 0.0047 ms.
    expect(chronyVerdict(loose, { ...thresholds, thresholdMs: 1050 }).state).toBe('drifted');
    expect(chronyVerdict(loose, { ...thresholds, thresholdMs: 1051 }).state).toBe('synced');
  });

  it('is unverified without a selected reachable source, or when chronyd is unsynchronised', () => {
    expect(chronyVerdict(parseChronycOutput(UNREACHABLE), thresholds)).toEqual({
      state: 'unverified',
      detail: 'chronyd has no selected time source',
    });
    const never = parseChronycOutput(NEVER_SYNCED);
    expect(never.tracking).toMatchObject({ reference: '', leapStatus: 'Not synchronised' });
    expect(never.authdata).toEqual([{ name: '127.0.0.1', mode: '-' }]);
    expect(chronyVerdict(never, thresholds).state).toBe('unverified');
    const reading = parseChronycOutput(SYNCED);
    const alarm: ChronyReading = {
      ...reading,
      tracking: { ...reading.tracking, leapStatus: 'Not synchronised' },
    };
    expect(chronyVerdict(alarm, thresholds).state).toBe('unverified');
    const unreached: ChronyReading = {
      ...reading,
      sources: reading.sources.map((source) => ({ ...source, reach: 0 })),
    };
    expect(chronyVerdict(unreached, thresholds).state).toBe('unverified');
  });

  it('with --require-nts, an unauthenticated selected source is unverified; without, synced and marked', () => {
    const reading = parseChronycOutput(FALLBACK);
    const lenient = chronyVerdict(reading, thresholds);
    expect(lenient.state).toBe('synced');
    expect(lenient.evidence).toMatchObject({ reference: '127.0.0.2', authenticated: false });
    const strict = chronyVerdict(reading, { ...thresholds, requireNts: true });
    expect(strict.state).toBe('unverified');
    expect(strict.detail).toContain('not NTS-authenticated');
    expect(
      chronyVerdict(parseChronycOutput(SYNCED), { ...thresholds, requireNts: true }).state,
    ).toBe('synced');
  });

  it('counts the sources combined with the selected one (+): a plain one makes the time unauthenticated', () => {
    const reading = parseChronycOutput(MIXED);
    const lenient = chronyVerdict(reading, thresholds);
    expect(lenient.state).toBe('synced');
    expect(lenient.evidence).toMatchObject({
      reference: '127.0.0.1',
      authenticated: false,
      unauthenticated: '127.0.0.3',
    });
    expect(lenient.detail).toMatch(
      /^chronyd's source 127\.0\.0\.1 \(stratum 9, NTS-authenticated, combined with unauthenticated 127\.0\.0\.3\) bounds/,
    );
    const strict = chronyVerdict(reading, { ...thresholds, requireNts: true });
    expect(strict.state).toBe('unverified');
    expect(strict.detail).toBe(
      'chronyd combines source 127.0.0.3, which is not NTS-authenticated, with its selected source 127.0.0.1 (stratum 9), and NTS is required',
    );
    // A plain source chronyd does not combine (?, -, x, ~) is not in its estimate.
    for (const state of ['?', '-', 'x', '~']) {
      const notCombined = parseChronycOutput(
        MIXED.replace('^,+,127.0.0.3', `^,${state},127.0.0.3`),
      );
      const verdict = chronyVerdict(notCombined, { ...thresholds, requireNts: true });
      expect(verdict.state, state).toBe('synced');
      expect(verdict.evidence, state).toMatchObject({ authenticated: true });
      expect(verdict.evidence, state).not.toHaveProperty('unauthenticated');
    }
    // Both plain ones combined: the first is named; a plain selected one before either.
    const both = parseChronycOutput(MIXED.replace('^,?,127.0.0.2', '^,+,127.0.0.2'));
    expect(chronyVerdict(both, thresholds).evidence).toMatchObject({
      unauthenticated: '127.0.0.2',
    });
    const plainSelected: ChronyReading = {
      ...both,
      sources: both.sources.map((source) => ({
        ...source,
        state: { '127.0.0.1': '+', '127.0.0.2': '+', '127.0.0.3': '*' }[source.name]!,
      })),
    };
    const refused = chronyVerdict(plainSelected, { ...thresholds, requireNts: true });
    expect(refused.evidence).toMatchObject({
      reference: '127.0.0.3',
      unauthenticated: '127.0.0.3',
    });
    expect(refused.detail).toBe(
      "chronyd's selected source 127.0.0.3 (stratum 9, not authenticated) is not NTS-authenticated and NTS is required",
    );
  });
});

function chronyMonitor(
  outputs: (string | Error)[],
  accuracyMs: number | 'auto',
  requireNts = false,
  // By default, a wall clock just after the fixtures' Ref times (the bound ages from them).
  clocks: { now?: () => number; monotonic?: () => number } = fakeClocks(1_796_403_950_000).clocks,
) {
  const read = () => {
    const next = outputs.shift() ?? new Error('no more readings');
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(parseChronycOutput(next));
  };
  return chronyMonitorOn(read, { accuracyMs, requireNts, clocks });
}

/** An injected wall clock and monotonic clock (ms), the wall one after the fixtures' Ref time. */
function fakeClocks(wallMs = 1_796_403_900_000) {
  const t = { wall: wallMs, mono: 10_000 };
  return {
    t,
    clocks: { now: () => t.wall, monotonic: () => t.mono },
    /** Both clocks move by `ms`, the wall clock also steps by `stepMs`. */
    advance: (ms: number, stepMs = 0) => {
      t.wall += ms + stepMs;
      t.mono += ms;
    },
  };
}

/** SYNCED with chronyd's last update ("Ref time", seconds since the Unix epoch) at `refTime`. */
const syncedAt = (refTime: number) => SYNCED.replace('1796403887.850427866', refTime.toFixed(9));

describe('ClockMonitor with --time-source chrony', () => {
  it('gates on chronyd: synced, unreachable (unverified), drifted, and unreachable then stays drifted', async () => {
    const { monitor } = chronyMonitor(
      [
        SYNCED,
        new Error('506 Cannot talk to daemon'),
        AHEAD,
        new Error('506 Cannot talk to daemon'),
        SYNCED,
      ],
      1000,
    );
    const gate = createClockGate(monitor, { requireTimeSync: true });
    const lenient = createClockGate(monitor, { requireTimeSync: false });
    expect((await monitor.runRound()).state).toBe('synced');
    expect(gate()).toBeUndefined();
    expect(monitor.status.chrony?.authenticated).toBe(true);
    const unreachable = await monitor.runRound();
    expect(unreachable.state).toBe('unverified');
    expect(unreachable.detail).toBe('chronyd not reachable: 506 Cannot talk to daemon');
    expect(unreachable.chrony).toBeUndefined();
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    expect(lenient()).toBeUndefined();
    expect((await monitor.runRound()).state).toBe('drifted');
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    // Found off, then no answer: not re-verified, so still drifted, closed by default too.
    const silent = await monitor.runRound();
    expect(silent.state).toBe('drifted');
    expect(silent.detail).toMatch(
      /^re-verification got no usable answer \(chronyd not reachable: 506 Cannot talk to daemon\), after: local clock differs from chronyd's source 127\.0\.0\.1/,
    );
    expect(lenient()?.failInfo).toBe('timeNotAvailable');
    expect((await monitor.runRound()).state).toBe('synced');
    expect(lenient()).toBeUndefined();
  });

  it('logs an unauthenticated selected source once, and its authentication when it returns', async () => {
    // MIXED's Ref time moved to SYNCED's, before the monitor's wall clock.
    const mixed = MIXED.replace('1796594579.499370036', '1796403887.850427866');
    const { monitor, lines } = chronyMonitor(
      [SYNCED, FALLBACK, FALLBACK, SYNCED, mixed, SYNCED],
      1000,
    );
    for (let i = 0; i < 6; i++) await monitor.runRound();
    const about = lines.filter(({ message }) => message.startsWith('time source'));
    expect(about.map(({ level, message }) => [level, message])).toEqual([
      ['info', 'time source 127.0.0.1 is NTS-authenticated'],
      [
        'warn',
        'time source 127.0.0.2 is not authenticated (no NTS): its time could be forged on the path',
      ],
      ['info', 'time source 127.0.0.1 is NTS-authenticated'],
      [
        'warn',
        'time source 127.0.0.1 is combined with 127.0.0.3, which is not authenticated (no NTS): its time could be forged on the path',
      ],
      ['info', 'time source 127.0.0.1 is NTS-authenticated'],
    ]);
    expect(about[3]!.fields).toMatchObject({ authenticated: false, unauthenticated: '127.0.0.3' });
  });

  it('--accuracy auto: tokens declare the measured bound, rounded up, never beyond the threshold', async () => {
    const reading = parseChronycOutput(SYNCED);
    const { monitor } = chronyMonitor([SYNCED, FALLBACK], 'auto');
    // Before any reading: the threshold (max_time_delta with auto).
    expect(monitor.status.accuracyMs).toBe(2000);
    await monitor.runRound();
    // 0.002412 + 0.003317 + 0.0044545 ms (+ 15 ppm of 62 s) rounds up to 1 ms, + 1 ms: genTime
    // is read to the millisecond, truncated.
    expect(monitor.status.accuracyMs).toBe(2);
    expect(chronyVerdict(reading, thresholds).evidence!.boundMs).toBeLessThan(1);
    await monitor.runRound();
    // 0.1 + 0.3 + 0.1 = 0.5 ms -> 1 ms, + 1
    expect(monitor.status.accuracyMs).toBe(2);
    const snapshot = timeSourceSnapshot(monitor.status, 'chrony', true);
    expect(snapshot).toMatchObject({
      source: 'chrony',
      state: 'synced',
      reference: '127.0.0.2',
      authenticated: false,
      accuracyMs: 2,
    });
    // A fixed accuracy is the profile's business: the snapshot carries none.
    expect(timeSourceSnapshot(monitor.status, 'chrony', false).accuracyMs).toBeUndefined();
  });

  it('--accuracy auto follows a larger bound up to the threshold, and a fixed accuracy stays', async () => {
    const wide = (systemTime: number) =>
      [
        SYNCED.split('\n')[0]!.replace('-0.000002412', String(systemTime)),
        ...SYNCED.split('\n').slice(1),
      ].join('\n');
    const { monitor } = chronyMonitor([wide(1.2345)], 'auto');
    await monitor.runRound();
    expect(monitor.status.state).toBe('synced');
    // 1234.5 + 0.0033 + 0.0045 ms, plus 15 ppm of the 62.15 s since chronyd's update (0.93 ms),
    // rounded up, + 1
    expect(monitor.status.accuracyMs).toBe(1237);
    const fixed = chronyMonitor([wide(0.1)], 500).monitor;
    await fixed.runRound();
    expect(fixed.status.state).toBe('synced');
    expect(fixed.status.accuracyMs).toBe(500);
  });

  it('counts each refused reading by reason, and says the bound in ms when it is small', async () => {
    const count = async (reason: string) =>
      (await ntpErrorsTotal.get()).values.find((value) => value.labels['reason'] === reason)
        ?.value ?? 0;
    const before = await Promise.all(
      ['err_too_few', 'err_inv_time', 'err_not_authenticated'].map(count),
    );
    const { monitor } = chronyMonitor(
      [SYNCED, AHEAD, FALLBACK, UNREACHABLE, new Error('gone')],
      1000,
      true,
    );
    const synced = await monitor.runRound();
    expect(synced.detail).toBe(
      "chronyd's source 127.0.0.1 (stratum 9, NTS-authenticated) bounds the local clock's error to 0.015 ms, within 0.5 s",
    );
    for (let i = 0; i < 4; i++) await monitor.runRound();
    const after = await Promise.all(
      ['err_too_few', 'err_inv_time', 'err_not_authenticated'].map(count),
    );
    expect(after.map((value, i) => value - before[i]!)).toEqual([2, 1, 1]);
  });

  it('refuses a reading whose last update is so old that its aged bound passes the threshold: stale, not a jump', async () => {
    const count = async (reason: string) =>
      (await ntpErrorsTotal.get()).values.find((value) => value.labels['reason'] === reason)
        ?.value ?? 0;
    const before = await Promise.all(['err_stale_bound', 'err_clock_jump'].map(count));
    // chronyd's last update 200,000 s (2.3 days) before it is read: 15 ppm of that is 3 s.
    const clock = fakeClocks(1_796_403_887_850 + 200_000_000);
    const { monitor } = chronyMonitor([SYNCED], 'auto', false, clock.clocks);
    const stale = await monitor.runRound();
    expect(stale.state).toBe('drifted');
    expect(stale.detail).toBe(
      "the bound measured 200001 s ago, widened by 15 ppm since (RFC 5905's PHI) and by the steps since, is beyond 2 s; until a reading brings newer evidence",
    );
    const after = await Promise.all(['err_stale_bound', 'err_clock_jump'].map(count));
    expect(after.map((value, i) => value - before[i]!)).toEqual([1, 0]);
  });
});

describe('a step of the wall clock with chrony', () => {
  it('keeps the gate closed until chronyd has measured the clock after the step', async () => {
    const clock = fakeClocks();
    // Before the step; after it, still chronyd's pre-step estimate; then its next measurement.
    const { monitor } = chronyMonitor(
      [SYNCED, SYNCED, SYNCED, syncedAt(1_796_403_910)],
      'auto',
      false,
      clock.clocks,
    );
    const gate = createClockGate(monitor, { requireTimeSync: false });
    await monitor.runRound();
    expect(gate()).toBeUndefined();
    expect(monitor.status.accuracyMs).toBe(2);
    clock.advance(10, 5000); // settimeofday +5 s: chronyd sees it only at its next poll
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    const held = await monitor.runRound();
    expect(held.state).toBe('drifted');
    expect(held.detail).toBe(
      "local clock jumped; waiting for chronyd's next measurement (its last, 2026-12-04T17:04:47.850Z, predates the step)",
    );
    expect(held.accuracyMs).toBe(2000); // max_time_delta, not the stale 2 ms
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    expect((await monitor.runRound()).state).toBe('drifted');
    // chronyd's next measurement, after the step: 1796403910, read 10 s later (1796403915.01).
    clock.advance(10_000);
    const fresh = await monitor.runRound();
    expect(fresh.state).toBe('synced');
    expect(gate()).toBeUndefined();
  });
});

describe('a step, then chronyd unreadable', () => {
  it('stays drifted, in the hold and after it, until a synced reading', async () => {
    const clock = fakeClocks();
    const { monitor } = chronyMonitor(
      [
        SYNCED,
        new ChronyError('CHRONYC_FAILED', 'chronyc: 506 Cannot talk to daemon'),
        SYNCED, // still chronyd's estimate from before the step: the hold
        new ChronyError('CHRONYC_TIMEOUT', 'chronyc gave no answer within 1000 ms'),
        syncedAt(1_796_407_530),
      ],
      1000,
      false,
      clock.clocks,
    );
    const gate = createClockGate(monitor, { requireTimeSync: false });
    await monitor.runRound();
    expect(gate()).toBeUndefined();
    clock.advance(10, 3_600_000); // +1 h: a bad hypervisor sync, say
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    const unreadable = await monitor.runRound();
    expect(unreadable.state).toBe('drifted');
    expect(unreadable.detail).toBe(
      're-verification got no usable answer (chronyd not reachable: chronyc: 506 Cannot talk to daemon), after: local clock jumped by 3600 s; re-verifying against NTP',
    );
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    expect((await monitor.runRound()).detail).toMatch(/^local clock jumped; waiting for chronyd/);
    expect((await monitor.runRound()).detail).toMatch(
      /^re-verification got no usable answer \(chronyd not reachable: chronyc gave no answer within 1000 ms\), after: local clock jumped; waiting/,
    );
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    // A minute on, chronyd has measured the clock after the step (at 1796407530; the step at
    // 1796407500.01 on the wall clock).
    clock.advance(60_000);
    expect((await monitor.runRound()).state).toBe('synced');
    expect(gate()).toBeUndefined();
  });
});

describe('a backward step, and small steps, with chrony', () => {
  it('after a -5 s step, stays drifted on a measurement from just before it', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000
    const { monitor } = chronyMonitor(
      // chronyd's update 0.5 s before the step, read before and after it; then two after it.
      [
        syncedAt(1_796_403_899.5),
        syncedAt(1_796_403_899.5),
        syncedAt(1_796_403_900.5),
        syncedAt(1_796_403_901.5),
      ],
      'auto',
      false,
      clock.clocks,
    );
    const gate = createClockGate(monitor, { requireTimeSync: false });
    expect((await monitor.runRound()).state).toBe('synced');
    clock.advance(10, -5000); // the wall clock at 1796403895.01: that update now reads as later
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    const held = await monitor.runRound();
    expect(held.state).toBe('drifted');
    expect(held.detail).toMatch(/^local clock jumped; waiting for chronyd's next measurement/);
    expect(held.accuracyMs).toBe(2000);
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    // The wall clock at 1796403901.01; chronyd measured at 1796403900.5, within 1 s of the step
    // (its System time may have moved that much since): that could still predate it.
    clock.advance(6000);
    expect((await monitor.runRound()).detail).toMatch(/^local clock jumped; waiting for chronyd/);
    clock.advance(1000); // the wall clock at 1796403902.01; chronyd measured at 1796403901.5
    const fresh = await monitor.runRound();
    expect(fresh.state).toBe('synced');
    expect(fresh.accuracyMs).toBe(2); // the -5 s step predates that measurement
    expect(gate()).toBeUndefined();
  });

  it('holds drifted, without flapping or re-reading, once small steps exceed the threshold', async () => {
    const clock = fakeClocks();
    const outputs: string[] = Array.from({ length: 20 }, () => SYNCED);
    const { monitor, lines } = chronyMonitor(outputs, 'auto', false, clock.clocks);
    const gate = createClockGate(monitor, { requireTimeSync: false });
    monitor.start();
    try {
      expect((await monitor.runRound()).state).toBe('synced');
      // Nine +240 ms steps (each under the 250 ms tolerance): 2.16 s in all, beyond the 2 s
      // threshold, while chronyd's estimate (its Ref time, before them) stays the same.
      for (let i = 0; i < 9; i++) {
        clock.advance(1000, 240);
        gate();
      }
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        expect(gate()?.failInfo).toBe('timeNotAvailable');
        expect(monitor.status.state).toBe('drifted');
      }
      expect(monitor.status.accuracyMs).toBe(2000);
      expect(20 - outputs.length).toBe(2); // the first reading, and one after the ninth step
      const changes = lines.filter(({ message }) => /^clock (synced|drifted)/.test(message));
      expect(changes.map(({ message }) => message.split(':')[0])).toEqual([
        'clock synced',
        'clock drifted, issuance refused',
      ]);
    } finally {
      await monitor.stop();
    }
  });
});

describe("small steps between chronyd's update and the reading", () => {
  it('count however small: 300 steps of +2 ms add 600 ms to the bound chronyd measured', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000
    // chronyd measured the clock (System time ~0) at 1796403900; it is read 300 s later.
    const { monitor } = chronyMonitor([syncedAt(1_796_403_900)], 'auto', false, clock.clocks);
    const gate = createClockGate(monitor, { requireTimeSync: false });
    for (let i = 0; i < 300; i++) {
      clock.advance(1000, 2); // each within the two clocks' 2 ms reading noise
      gate();
    }
    const status = await monitor.runRound();
    expect(status.state).toBe('synced');
    // 0.01 ms measured + 600 ms of steps + 15 ppm of the 300.6 s since (4.5 ms: the instant is
    // taken as early as the steps since allow), rounded up, + 1.
    expect(status.accuracyMs).toBe(606);
  });
});

describe("chronyd's Ref time is on its own clock, System time ahead of the local one", () => {
  /** SYNCED with chronyd's last update at `refTime` (its clock) and System time `systemTime` (s). */
  const trackedAt = (refTime: number, systemTime: number) =>
    syncedAt(refTime).replace('-0.000002412', systemTime.toFixed(9));

  it('a backward step after the update, under the jump tolerance, counts against its estimate', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000, 1.5 s slow (chronyd -x)
    // chronyd measured it 0.5 s ago (1796403899.5 local): Ref time 1796403901 on its clock.
    const { monitor } = chronyMonitor([trackedAt(1_796_403_901, 1.5)], 'auto', false, clock.clocks);
    const gate = createClockGate(monitor, { requireTimeSync: false });
    clock.advance(1000, -200);
    gate();
    clock.advance(1000);
    const status = await monitor.runRound();
    // The clock is now 1.7 s slow: 1500.01 ms measured + the 200 ms step + 15 ppm of the 3.5 s
    // since (the update taken as early as chrony's slew since allows), rounded up, + 1.
    expect(status.state).toBe('synced');
    expect(status.accuracyMs).toBe(1702);
  });

  it('a detected step holds the gate until a measurement after it on the local clock', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000, 1.8 s slow (chronyd -x)
    const { monitor } = chronyMonitor(
      [
        // chronyd measured it 0.5 s ago (1796403899.5 local): 1796403901.3 on its clock.
        trackedAt(1_796_403_901.3, 1.8),
        trackedAt(1_796_403_901.3, 1.8),
        // Its next measurement, 2.7 s after the start on the local clock: 2.1 s slow now.
        trackedAt(1_796_403_904.8, 2.1),
      ],
      'auto',
      false,
      clock.clocks,
    );
    const gate = createClockGate(monitor, { requireTimeSync: false });
    expect((await monitor.runRound()).state).toBe('synced');
    clock.advance(1000, -300); // at 1796403900.7 after the step: chronyd's update reads as later
    expect(gate()?.failInfo).toBe('timeNotAvailable');
    const held = await monitor.runRound();
    expect(held.state).toBe('drifted');
    expect(held.detail).toMatch(/^local clock jumped; waiting for chronyd's next measurement/);
    clock.advance(3000);
    const measured = await monitor.runRound();
    expect(measured.state).toBe('drifted');
    expect(measured.detail).toMatch(/by up to 2\.1 s, more than 2 s$/);
  });
});

describe('a Ref time in the future', () => {
  it('is an unusable answer: unverified, as when chronyd cannot be read', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000
    const { monitor } = chronyMonitor(
      [syncedAt(1_796_403_899), syncedAt(1_796_403_905), syncedAt(1_796_403_900.5)],
      1000,
      false,
      clock.clocks,
    );
    expect((await monitor.runRound()).state).toBe('synced');
    const future = await monitor.runRound(); // 5 s ahead of the local clock (System time ~0)
    expect(future.state).toBe('unverified');
    expect(future.detail).toBe('unusable answer from chronyd: chronyc: ref time is in the future');
    expect((await monitor.runRound()).state).toBe('synced'); // within the 1 s slack
  });

  it('is judged on the local clock: one whose clock is fast has Ref times behind it', async () => {
    const clock = fakeClocks(); // the wall clock at 1796403900.000, 5 s fast (System time -5 s)
    const fast = (refTime: number) => syncedAt(refTime).replace('-0.000002412', '-5.000000000');
    const { monitor } = chronyMonitor(
      [fast(1_796_403_897), fast(1_796_403_895.5)],
      5000,
      false,
      clock.clocks,
    );
    // 1796403897 on chronyd's clock is 1796403902 on the local one: 2 s ahead of it.
    expect((await monitor.runRound()).detail).toBe(
      'unusable answer from chronyd: chronyc: ref time is in the future',
    );
    expect((await monitor.runRound()).state).toBe('drifted'); // 0.5 s ahead: within the slack
  });

  it('may be ahead of the local clock by what chronyd has still to correct', async () => {
    const clock = fakeClocks(1_796_403_900_000);
    // AHEAD: the local clock 30 s slow, its Ref time 1796403949.9: on chronyd's clock, the past.
    const { monitor } = chronyMonitor([AHEAD], 1000, false, clock.clocks);
    clock.advance(20_000);
    expect((await monitor.runRound()).state).toBe('drifted');
  });
});

describe('chrony gauges', () => {
  it('clears (NaN) the offset and bound gauges when chronyd gives no evidence', async () => {
    const gauges = [ntpOffset, clockErrorBound, timeSourceRootDispersion];
    const values = async () =>
      Promise.all(
        gauges.map(async (gauge) => (await gauge.get()).values.map(({ value }) => value)),
      );
    const { monitor } = chronyMonitor(
      [AHEAD, new Error('506 Cannot talk to daemon'), AHEAD, UNREACHABLE],
      1000,
    );
    await monitor.runRound();
    expect((await values()).map((each) => each.length)).toEqual([1, 1, 1]);
    expect((await values())[0]).toEqual([30]);
    await monitor.runRound(); // chronyd unreadable
    expect(monitor.status.state).toBe('drifted'); // the last reading found the clock off
    expect(await values()).toEqual([[NaN], [NaN], [NaN]]);
    await monitor.runRound();
    expect((await values())[0]).toEqual([30]);
    await monitor.runRound(); // no selected source
    expect(await values()).toEqual([[NaN], [NaN], [NaN]]);
  });

  it('clears them after a step, while the hold waits for a measurement after it', async () => {
    const clock = fakeClocks();
    const { monitor } = chronyMonitor([SYNCED, SYNCED], 'auto', false, clock.clocks);
    await monitor.runRound();
    expect((await clockErrorBound.get()).values[0]!.value).toBeGreaterThan(0);
    clock.advance(10, 5000);
    monitor.checkForClockJump();
    expect((await ntpOffset.get()).values[0]!.value).toBeNaN(); // the step closed the gate
    // As if written meanwhile: the hold must clear them itself.
    for (const gauge of [ntpOffset, clockErrorBound, timeSourceRootDispersion]) gauge.set(1);
    expect((await monitor.runRound()).detail).toMatch(/^local clock jumped; waiting for chronyd/);
    for (const gauge of [ntpOffset, clockErrorBound, timeSourceRootDispersion]) {
      expect((await gauge.get()).values[0]!.value).toBeNaN();
    }
  });
});
