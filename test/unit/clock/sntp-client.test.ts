import { afterEach, describe, expect, it } from 'vitest';
import { ntpToUnixMs, querySntp, SntpError, unixMsToNtp } from '../../../src/clock/sntp-client.js';
import { registry } from '../../../src/metrics/registry.js';
import { answer, silent, SntpResponder } from '../../helpers/sntp-responder.js';

const responders: SntpResponder[] = [];
afterEach(async () => Promise.all(responders.splice(0).map((responder) => responder.close())));

async function responder(...args: Parameters<typeof SntpResponder.start>) {
  const started = await SntpResponder.start(...args);
  responders.push(started);
  return started;
}

describe('SNTP client', () => {
  it.each([
    ['2026-11-24T17:00:00.250Z'],
    ['2036-02-07T06:28:16.000Z'], // NTP era 1 begins
    ['2040-01-01T00:00:00.500Z'],
  ])('converts NTP timestamps across eras (%s)', (iso) => {
    const packet = Buffer.alloc(8);
    const ms = Date.parse(iso);
    unixMsToNtp(ms, packet, 0);
    expect(Math.abs(ntpToUnixMs(packet, 0) - ms)).toBeLessThan(0.001);
  });

  it('measures a positive offset for a server ahead of the local clock, negative behind', async () => {
    const ahead = await responder(answer({ offsetMs: 4000 }));
    const behind = await responder(answer({ offsetMs: -2500 }));
    const a = await querySntp(ahead.address, { timeoutMs: 5000 });
    const b = await querySntp(behind.address, { timeoutMs: 5000 });
    expect(Math.abs(a.offsetMs - 4000)).toBeLessThan(500);
    expect(Math.abs(b.offsetMs + 2500)).toBeLessThan(500);
    expect(a.delayMs).toBeGreaterThanOrEqual(0);
    expect(a.errorBoundMs).toBe(a.delayMs / 2);
    expect([a.leapIndicator, a.stratum]).toEqual([0, 2]);
  });

  it('measures against the injected wall clock', async () => {
    const server = await responder(answer());
    const sample = await querySntp(server.address, {
      timeoutMs: 5000,
      now: () => Date.now() - 60_000,
    });
    expect(Math.abs(sample.offsetMs - 60_000)).toBeLessThan(500);
  });

  it('rejects with a reason: timeout, kiss-o\u2019-death (with its code), alarm, abort', async () => {
    const reasonOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (error: unknown) =>
          error instanceof SntpError ? `${error.reason}: ${error.message}` : String(error),
      );
    expect(await reasonOf(querySntp((await responder(silent)).address, { timeoutMs: 30 }))).toBe(
      'timeout: no answer within 30 ms',
    );
    const kiss = await responder(answer({ stratum: 0, referenceId: 'DENY' }));
    expect(await reasonOf(querySntp(kiss.address, { timeoutMs: 5000 }))).toBe(
      "kiss-o-death: kiss-o'-death DENY",
    );
    const alarm = await responder(answer({ leapIndicator: 3 }));
    expect(await reasonOf(querySntp(alarm.address, { timeoutMs: 5000 }))).toMatch(/^alarm: /);
    const controller = new AbortController();
    const pending = reasonOf(
      querySntp((await responder(silent)).address, {
        timeoutMs: 10_000,
        signal: controller.signal,
      }),
    );
    controller.abort();
    expect(await pending).toBe('timeout: query aborted');
  });

  it('registers the clock metrics in the shared registry', async () => {
    await import('../../../src/clock/clock-metrics.js');
    const text = await registry.metrics();
    for (const name of [
      'timestamp_authority_ntp_latency',
      'timestamp_authority_ntp_latency_seconds',
      'timestamp_authority_ntp_sync_total',
      'timestamp_authority_ntp_errors_total',
      'timestamp_authority_ntp_offset_seconds',
      'timestamp_authority_clock_state',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});
