import { afterEach, describe, expect, it } from 'vitest';
import {
  ntpToUnixMs,
  querySntp,
  SntpError,
  unixMsToNtp,
  type SntpSample,
} from '../../../src/clock/sntp-client.js';
import { registry } from '../../../src/metrics/registry.js';
import { answer, reply, silent, SntpResponder } from '../../helpers/sntp-responder.js';

/**
 * Date.now() is whole milliseconds: the four timestamps of a sample may each read up to 1 ms low,
 * which moves its offset by up to 1 ms and its delay by up to 2 ms (so the bound by up to 1 ms).
 */
const TIMESTAMP_RESOLUTION_MS = 2;

/**
 * A responder reads the very clock the client does, plus its offset: the sample is then within
 * half its own round trip of that offset (RFC 5905), however slow the round trip was.
 */
function expectOffset(sample: SntpSample, expectedMs: number): void {
  expect(Math.abs(sample.offsetMs - expectedMs)).toBeLessThanOrEqual(
    sample.delayMs / 2 + TIMESTAMP_RESOLUTION_MS,
  );
}

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
    expectOffset(a, 4000);
    expectOffset(b, -2500);
    expect(a.delayMs).toBeGreaterThanOrEqual(0);
    expect(a.errorBoundMs).toBe(a.delayMs / 2); // the responder's root delay and dispersion: 0
    expect([a.leapIndicator, a.stratum]).toEqual([0, 2]);
  });

  it('names the answering address one way however it is spelt: an IPv4-mapped one as IPv4', async () => {
    const server = await responder(answer());
    const plain = await querySntp(server.address, { timeoutMs: 5000 });
    const mapped = await querySntp(
      { ...server.address, host: `::ffff:${server.address.host}` },
      { timeoutMs: 5000 },
    );
    expect(plain.address).toBe(`127.0.0.1:${server.address.port}`);
    expect(mapped.address).toBe(plain.address);
  });

  it('measures against the injected wall clock', async () => {
    const server = await responder(answer());
    const sample = await querySntp(server.address, {
      timeoutMs: 5000,
      now: () => Date.now() - 60_000,
    });
    expectOffset(sample, 60_000);
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

  it('bounds the error by the root distance: round trip / 2 + root delay / 2 + dispersion', async () => {
    const server = await responder(answer({ rootDelayMs: 250, rootDispersionMs: 125 }));
    const sample = await querySntp(server.address, { timeoutMs: 5000 });
    expect(sample.rootDelayMs).toBe(250);
    expect(sample.rootDispersionMs).toBe(125);
    expect(sample.errorBoundMs).toBeCloseTo(sample.delayMs / 2 + 125 + 125, 9);
  });

  it('returns an answer whose root distance is over MAXDIST, for the verdict', async () => {
    // 20 s ahead with a 1.45 s root distance: the verdict (not the client) decides what it shows.
    const server = await responder(
      answer({ offsetMs: 20_000, rootDelayMs: 1000, rootDispersionMs: 900 }),
    );
    const sample = await querySntp(server.address, { timeoutMs: 5000 });
    expect(sample.errorBoundMs).toBeGreaterThan(1000);
    expect(sample.offsetMs).toBeGreaterThan(15_000);
  });

  it.each([
    [
      'reference time 0',
      { referenceAgeMs: null },
      /^bad-reference-time: reference time 0: server never synchronised$/,
    ],
    [
      'a reference time over a day old',
      { referenceAgeMs: 25 * 3_600_000 },
      /^bad-reference-time: server last synchronised more than a day ago$/,
    ],
    [
      'a reference time later than the transmit time',
      { referenceAgeMs: -1000 },
      /^bad-reference-time: reference time later than the transmit time$/,
    ],
    ['version 0', { version: 0 }, /^malformed: not an NTP server reply \(mode 4, version 0\)$/],
    ['version 5', { version: 5 }, /^malformed: not an NTP server reply \(mode 4, version 5\)$/],
    ['a zero transmit timestamp', { zeroTransmit: true }, /^malformed: zero transmit timestamp$/],
    // Its receive timestamp a minute before its transmit one, in a round trip within the 5 s
    // timeout: its timestamps (RFC 4330 section 5) bound the offset to [T3 - T4, T2 - T1], an
    // empty interval; its midpoint, with no error, would be up to 30 s wrong.
    [
      'its own timestamps longer apart than the round trip',
      { receivedEarlierMs: 60_000 },
      /^malformed: negative round-trip delay \(-\d+\.\d{3} ms\): the server's timestamps contradict the round trip$/,
    ],
  ])('refuses an answer with %s', async (_name, options, expected) => {
    const { version, zeroTransmit, receivedEarlierMs, ...replyOptions } = {
      version: 4,
      zeroTransmit: false,
      receivedEarlierMs: 0,
      ...options,
    };
    const server = await responder((request) => {
      const packet = reply(request, replyOptions);
      packet[0] = (packet[0]! & 0b1100_0111) | (version << 3);
      if (zeroTransmit) packet.fill(0, 40, 48);
      if (receivedEarlierMs) unixMsToNtp(Date.now() - receivedEarlierMs, packet, 32);
      return packet;
    });
    const error = await querySntp(server.address, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SntpError);
    expect(`${(error as SntpError).reason}: ${(error as SntpError).message}`).toMatch(expected);
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
