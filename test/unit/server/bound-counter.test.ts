/**
 * BoundCounter must read exactly as prom-client's Counter, which is the oracle here: the same
 * increments into both give the same text exposition and the same JSON (what the cluster
 * aggregator sums), before and after a reset.
 */
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter } from '../../../src/server/bound-counter.js';
import { aggregatedOfTwoWorkers, jsonWithoutExemplars } from '../../helpers/prom-oracle.js';

const INCREMENTS: [string, string][] = [
  ['granted', 'none'],
  ['granted', 'none'],
  ['rejected', 'badAlg'],
  ['granted', 'none'],
  ['rejected', 'timeNotAvailable'],
];

function both() {
  const ours = new Registry();
  const theirs = new Registry();
  const counter = new BoundCounter('issued_total', 'help text', ['outcome', 'fail_info'], ours);
  const reference = new Counter({
    name: 'issued_total',
    help: 'help text',
    labelNames: ['outcome', 'fail_info'],
    registers: [theirs],
  });
  const increment = () => {
    for (const [outcome, failInfo] of INCREMENTS) {
      counter.labels(outcome, failInfo).inc();
      reference.labels(outcome, failInfo).inc();
    }
  };
  increment();
  return { ours, theirs, counter, increment };
}

describe('BoundCounter', () => {
  it('exposes the same text as prom-client', async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('issued_total{outcome="granted",fail_info="none"} 3');
    expect(text).toContain('issued_total{outcome="rejected",fail_info="badAlg"} 1');
  });

  it('gives the cluster aggregator the same JSON as prom-client', async () => {
    const { ours, theirs } = both();
    expect(await ours.getMetricsAsJSON()).toEqual(await jsonWithoutExemplars(theirs));
    const summed = await aggregatedOfTwoWorkers(ours);
    expect(summed).toBe(await aggregatedOfTwoWorkers(theirs));
    expect(summed).toContain('issued_total{outcome="granted",fail_info="none"} 6');
  });

  it('shows a label set only once incremented, also after reset(); handles stay bound', async () => {
    const { ours, theirs, counter, increment } = both();
    const handle = counter.labels('granted', 'none');
    counter.labels('rejected', 'badDataFormat');
    expect(await ours.metrics()).not.toContain('badDataFormat');
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain('issued_total{');
    handle.inc();
    expect(await ours.metrics()).toContain('issued_total{outcome="granted",fail_info="none"} 1');
    increment();
    expect(await ours.metrics()).toContain('issued_total{outcome="granted",fail_info="none"} 4');
    expect(await theirs.metrics()).toContain('issued_total{outcome="granted",fail_info="none"} 3');
  });
});
