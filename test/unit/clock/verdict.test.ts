import { describe, expect, it } from 'vitest';
import { clockVerdict, type ServerSample } from '../../../src/clock/verdict.js';

/** A usable answer: `offsetMs` off, with an error bound of half a `delayMs` round trip. */
function sample(name: string, offsetMs: number, delayMs = 0): ServerSample {
  return {
    server: { name, host: name, port: 123 },
    sample: {
      offsetMs,
      delayMs,
      errorBoundMs: delayMs / 2,
      leapIndicator: 0,
      stratum: 2,
      serverTimeMs: 1_700_000_000_000 + offsetMs,
    },
  };
}

const thresholds = { thresholdMs: 1000, serverThreshold: 2, numServers: 3 };

describe('clockVerdict', () => {
  it('counts an answer whose root distance alone exceeds the threshold as no usable answer', () => {
    const wide = sample('a', 0);
    wide.sample.errorBoundMs = 100_000; // cannot tell: the clock may be anywhere within 100 s
    const verdict = clockVerdict([wide, sample('b', 0)], thresholds);
    expect(verdict.state).toBe('unverified');
    expect(verdict.detail).toBe('only 1 of 3 NTP servers gave a usable answer, 2 needed');
    expect(verdict.disagreeing).toEqual([]);
  });

  it('counts an answer off by more than threshold + root distance as disagreeing', () => {
    // Four servers 5 s ahead, each with a 150 ms root distance, against a 100 ms threshold: the
    // clock is at least 4.85 s off, which is drifted (refused), not unverified (issued).
    const far = (name: string) => {
      const answer = sample(name, 5000);
      answer.sample.errorBoundMs = 150;
      return answer;
    };
    const answers = ['a', 'b', 'c', 'd'].map(far);
    const verdict = clockVerdict(answers, { thresholdMs: 100, serverThreshold: 3, numServers: 4 });
    expect(verdict.state).toBe('drifted');
    expect(verdict.disagreeing).toEqual(answers);
    expect(verdict.tooFewAnswers).toBe(false);
    // Beyond MAXDIST (1 s) too: 20 s off with a 1.5 s root distance proves the clock off.
    const wide = sample('e', -20_000);
    wide.sample.errorBoundMs = 1500;
    expect(clockVerdict([wide, sample('f', 3000)], thresholds).state).toBe('drifted');
    // Within the threshold but beyond MAXDIST: cannot show agreement.
    const unfit = sample('g', 0);
    unfit.sample.errorBoundMs = 1500;
    const lenient = { thresholdMs: 5000, serverThreshold: 2, numServers: 3 };
    expect(clockVerdict([unfit, sample('h', 0)], lenient).state).toBe('unverified');
  });

  it('is synced when server_threshold servers agree, with the median offset and the worst agreeing bound', () => {
    const verdict = clockVerdict(
      [sample('a', 100), sample('b', -300), sample('c', 5000)],
      thresholds,
    );
    expect(verdict).toEqual({
      state: 'synced',
      detail: '2 of 3 NTP servers agree with the local clock within 1 s',
      offsetMs: 100,
      boundMs: 300,
      tooFewAnswers: false,
      tooFewAgreeing: false,
      disagreeing: [sample('c', 5000)],
    });
  });

  it('counts the worst case of a measurement: |offset| + delay/2 must stay within the threshold', () => {
    // 900 ms off with a 400 ms round trip may be 1.1 s off: it does not agree.
    const verdict = clockVerdict([sample('a', 900, 400), sample('b', -900, 200)], thresholds);
    expect(verdict.state).toBe('drifted');
    expect(verdict.disagreeing.map(({ server }) => server.name)).toEqual(['a']);
    // Exactly on the threshold agrees.
    expect(clockVerdict([sample('a', 800, 400), sample('b', 0)], thresholds).state).toBe('synced');
  });

  it('is drifted when enough servers answered but too few agree', () => {
    const verdict = clockVerdict(
      [sample('a', 2000), sample('b', 3000), sample('c', 100)],
      thresholds,
    );
    expect(verdict).toMatchObject({
      state: 'drifted',
      detail: 'local clock differs from 2 of 3 NTP servers by more than 1 s (median offset 2 s)',
      offsetMs: 2000,
      tooFewAnswers: false,
      tooFewAgreeing: true,
    });
  });

  it('takes the mean of the two middle offsets for an even count', () => {
    const verdict = clockVerdict([sample('a', 1500), sample('b', 2500)], thresholds);
    expect(verdict.offsetMs).toBe(2000);
    expect(verdict.detail).toContain('(median offset 2 s)');
  });

  it('is unverified when too few servers gave a usable answer, even if those agree', () => {
    const verdict = clockVerdict([sample('a', 10)], thresholds);
    expect(verdict).toEqual({
      state: 'unverified',
      detail: 'only 1 of 3 NTP servers gave a usable answer, 2 needed',
      offsetMs: 10,
      tooFewAnswers: true,
      tooFewAgreeing: true,
      disagreeing: [],
    });
  });

  it('has no offset when no server answered', () => {
    const verdict = clockVerdict([], thresholds);
    expect(verdict.state).toBe('unverified');
    expect(verdict).not.toHaveProperty('offsetMs');
    expect(verdict.detail).toBe('only 0 of 3 NTP servers gave a usable answer, 2 needed');
  });

  it('never lets a sample that is not a number agree', () => {
    const verdict = clockVerdict([sample('a', Number.NaN), sample('b', 0)], {
      ...thresholds,
      numServers: 2,
    });
    expect(verdict.state).toBe('drifted');
    expect(verdict.disagreeing.map(({ server }) => server.name)).toEqual(['a']);
  });

  it('formats the threshold in seconds', () => {
    const verdict = clockVerdict([sample('a', 0)], {
      thresholdMs: 250,
      serverThreshold: 1,
      numServers: 1,
    });
    expect(verdict.detail).toBe('1 of 1 NTP servers agree with the local clock within 0.25 s');
  });
});
