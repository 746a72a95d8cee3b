import { describe, expect, it } from 'vitest';
import { parseAccuracy } from '../../../src/config/accuracy.js';
import { ConfigError, resolveLayers, resolveServeConfig } from '../../../src/config/resolve.js';
import { clockOptionsFrom } from '../../../src/runtime/clock-monitor.js';

describe('clock options: --time-source, --chrony-socket, --require-nts, --accuracy', () => {
  it('defaults to SNTP, the system chronyd socket and a 1 s accuracy', () => {
    const config = resolveServeConfig({});
    expect([config.timeSource, config.chronySocket, config.requireNts, config.accuracy]).toEqual([
      'sntp',
      '/run/chrony/chronyd.sock',
      false,
      '1s',
    ]);
    expect(clockOptionsFrom(config)).toMatchObject({ accuracyMs: 1000, timeSource: 'sntp' });
  });

  it('parses --accuracy as auto or a duration from 2 ms to 60 s', () => {
    expect(parseAccuracy('auto')).toBe('auto');
    expect(parseAccuracy('AUTO')).toBe('auto');
    expect(parseAccuracy('250ms')).toBe(250);
    expect(parseAccuracy('1.5s')).toBe(1500);
    expect(parseAccuracy('2ms')).toBe(2);
    // Tokens declare whole milliseconds: a fraction rounds up, never to a bound tighter than asked.
    expect(parseAccuracy('2.5ms')).toBe(3);
    // 1 ms: genTime's own millisecond would leave the clock no room.
    for (const bad of ['0', '1', '1ms', 'soon', '0.5ms', '2m']) {
      expect(() => parseAccuracy(bad)).toThrow(ConfigError);
    }
    expect(() => resolveServeConfig({ accuracy: '10' })).toThrow(/--accuracy/);
  });

  it('refuses --require-nts without chrony, and NTS or auto accuracy without monitoring', () => {
    expect(() => resolveServeConfig({ requireNts: true })).toThrow(/--time-source chrony/);
    expect(() =>
      resolveServeConfig({ requireNts: true, timeSource: 'chrony', disableNtpMonitoring: true }),
    ).toThrow(/--disable-ntp-monitoring/);
    expect(() => resolveServeConfig({ accuracy: 'auto', disableNtpMonitoring: true })).toThrow(
      /--disable-ntp-monitoring/,
    );
    expect(() => resolveServeConfig({ timeSource: 'ntp' })).toThrow(/sntp, chrony/);
    // chronyd would never be read (the chrony options were silently ignored).
    expect(() => resolveServeConfig({ timeSource: 'chrony', disableNtpMonitoring: true })).toThrow(
      new ConfigError(
        'CONFLICTING_OPTIONS',
        '--time-source chrony needs clock monitoring: remove --disable-ntp-monitoring',
      ),
    );
    const config = resolveServeConfig({
      timeSource: 'chrony',
      requireNts: true,
      chronySocket: '/run/shared/chrony/chronyd.sock',
      accuracy: 'auto',
    });
    expect(clockOptionsFrom(config)).toEqual({
      ntpMonitoring: '',
      accuracyMs: 'auto',
      timeSource: 'chrony',
      chronySocket: '/run/shared/chrony/chronyd.sock',
      requireNts: true,
      // --require-nts refuses issuance on an unverified clock, as --require-time-sync does.
      requireTimeSync: true,
    });
    expect(clockOptionsFrom(resolveServeConfig({ requireTimeSync: true })).requireTimeSync).toBe(
      true,
    );
    expect(clockOptionsFrom(resolveServeConfig({})).requireTimeSync).toBe(false);
  });
});

describe('--ntp-monitoring with --disable-ntp-monitoring', () => {
  const warningsOf = (flags: Record<string, unknown>) =>
    resolveLayers([{ source: 'flags', values: flags }]).warnings;

  it('is accepted, as in the Go server, with a warning that the file is not read', () => {
    expect(warningsOf({ ntpMonitoring: '/etc/ntp.yaml', disableNtpMonitoring: true })).toEqual([
      '--ntp-monitoring is ignored: --disable-ntp-monitoring turns clock monitoring off',
    ]);
    expect(warningsOf({ ntpMonitoring: '/etc/ntp.yaml' })).toEqual([]);
    expect(warningsOf({ disableNtpMonitoring: true })).toEqual([]);
  });
});
