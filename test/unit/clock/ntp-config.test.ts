import { afterEach, describe, expect, it } from 'vitest';
import {
  loadNtpConfig,
  NTP_CONFIG_ERRORS,
  NtpConfigError,
  parseNtpConfig,
  toMonitorSettings,
  validateNtpConfig,
  type NtpMonitoringConfig,
} from '../../../src/clock/ntp-config.js';
import { parseServerAddress } from '../../../src/clock/server-address.js';
import { tempDir } from '../../helpers/openssl.js';

/** The YAML of the Go server's own config test. */
const GO_TEST_YAML = `
# Number of attempts to contact a ntp server before giving up.
request_attempts: 3
request_timeout: 5
num_servers: 4
server_threshold: 3
max_time_delta: 6
period: 60
unknown_key: ignored, as Go does
servers:
  - "time.apple.com"
  - "time.google.com"
  - "time1.google.com"
  - "time2.google.com"
  - "time3.google.com"
  - "time4.google.com:123"
`;

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.cleanup()));

const valid: NtpMonitoringConfig = {
  request_attempts: 3,
  request_timeout: 5,
  num_servers: 4,
  server_threshold: 3,
  max_time_delta: 6,
  period: 60,
  servers: ['a', 'b', 'c', 'd'],
};

describe('NTP configuration loader', () => {
  it('reads the embedded Go default when no path is given', async () => {
    const config = await loadNtpConfig('');
    expect(config).toMatchObject({
      request_attempts: 3,
      request_timeout: 5,
      num_servers: 4,
      server_threshold: 3,
      max_time_delta: 6,
      period: 60,
    });
    expect(config.servers).toHaveLength(23);
    expect(config.servers).toContain('time.apple.com');
    expect(config.servers).toContain('time-d-b.nist.gov');
    expect(config.servers).toContain('svl2.ntp.se');
    expect(config.servers.at(-1)).toBe('time.aws.com');
  });

  it('reads a file with the Go keys, ignoring unknown keys', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const config = await loadNtpConfig(dir.write('ntp.yaml', GO_TEST_YAML));
    expect(config).toEqual({
      request_attempts: 3,
      request_timeout: 5,
      num_servers: 4,
      server_threshold: 3,
      max_time_delta: 6,
      period: 60,
      servers: [
        'time.apple.com',
        'time.google.com',
        'time1.google.com',
        'time2.google.com',
        'time3.google.com',
        'time4.google.com:123',
      ],
    });
  });

  it('reports a missing file and YAML that does not parse, as Go does', async () => {
    await expect(loadNtpConfig('/nonexistent/ntp.yaml')).rejects.toThrow(
      /^failed to read file: \/nonexistent\/ntp.yaml /,
    );
    expect(() => parseNtpConfig('servers: [unclosed')).toThrow(/^failed to parse YAML: /);
    expect(() => parseNtpConfig('- a list')).toThrow(/^failed to parse YAML: /);
    expect(() => parseNtpConfig('request_timeout: 1.5')).toThrow(
      'failed to parse YAML: request_timeout must be an integer, got 1.5',
    );
    expect(() => parseNtpConfig('period: soon')).toThrow(
      /^failed to parse YAML: period must be an integer/,
    );
    expect(() => parseNtpConfig('servers: {a: b}')).toThrow(
      /^failed to parse YAML: servers must be a list/,
    );
  });

  it('takes a missing key as zero, as Go does, so it fails validation instead of defaulting', () => {
    const config = parseNtpConfig('servers: [a, b]\nnum_servers: 2\nserver_threshold: 1');
    expect(config.request_timeout).toBe(0);
    expect(() => validateNtpConfig(config)).toThrow(NTP_CONFIG_ERRORS.deltaTooSmall);
    expect(() => validateNtpConfig(parseNtpConfig(''))).toThrow(NTP_CONFIG_ERRORS.tooFewServers);
  });

  it('converts to the millisecond settings of the monitor', () => {
    const settings = toMonitorSettings({ ...valid, servers: ['a', 'b:1234', '[::1]:5', 'd'] });
    expect(settings).toMatchObject({
      numServers: 4,
      serverThreshold: 3,
      requestAttempts: 3,
      requestTimeoutMs: 5000,
      maxTimeDeltaMs: 6000,
      periodMs: 60_000,
      retryDelayMs: 1000,
    });
    expect(settings.servers.map(({ host, port }) => `${host} ${port}`)).toEqual([
      'a 123',
      'b 1234',
      '::1 5',
      'd 123',
    ]);
  });
});

describe('NTP configuration validation (Go rules and messages, reference 7.1)', () => {
  it.each<[string, Partial<NtpMonitoringConfig>, string]>([
    ['no servers', { servers: [] }, NTP_CONFIG_ERRORS.tooFewServers],
    [
      'fewer servers than num_servers',
      { servers: ['a', 'b', 'c'] },
      NTP_CONFIG_ERRORS.tooFewServers,
    ],
    ['server_threshold 0', { server_threshold: 0 }, NTP_CONFIG_ERRORS.threshold],
    ['negative server_threshold', { server_threshold: -1 }, NTP_CONFIG_ERRORS.threshold],
    [
      'server_threshold above num_servers',
      { server_threshold: 5 },
      NTP_CONFIG_ERRORS.tooFewServers,
    ],
    ['request_timeout 0', { request_timeout: 0 }, NTP_CONFIG_ERRORS.deltaTooSmall],
    [
      'max_time_delta below request_timeout',
      { max_time_delta: 4 },
      NTP_CONFIG_ERRORS.deltaTooSmall,
    ],
    // The traps Go leaves open: infinite retries and a busy loop.
    ['request_attempts 0', { request_attempts: 0 }, NTP_CONFIG_ERRORS.attempts],
    ['negative request_attempts', { request_attempts: -2 }, NTP_CONFIG_ERRORS.attempts],
    ['period 0', { period: 0 }, NTP_CONFIG_ERRORS.period],
    // Upper bounds: a period or timeout beyond a timer's range fires at once (a query flood), and
    // a long round keeps the last verdict in force meanwhile.
    ['period over an hour', { period: 3601 }, NTP_CONFIG_ERRORS.periodTooLong],
    ['period beyond a timer', { period: 2_147_484 }, NTP_CONFIG_ERRORS.periodTooLong],
    [
      'request_timeout over a minute',
      { request_timeout: 61, max_time_delta: 61 },
      NTP_CONFIG_ERRORS.timeoutTooLong,
    ],
    ['request_attempts over 10', { request_attempts: 11 }, NTP_CONFIG_ERRORS.attemptsTooMany],
    [
      'a bad port',
      { servers: ['a', 'b', 'c', 'd:99999'] },
      'invalid ntp server "d:99999": port must be 1-65535',
    ],
    [
      'an empty server',
      { servers: ['a', 'b', 'c', ''] },
      'invalid ntp server "": expected host or host:port',
    ],
    // One server listed twice would count as two agreeing servers.
    [
      'a server listed twice',
      { servers: ['a', 'b', 'c', 'b'] },
      'ntp server "b" is listed twice (as "b" and "b"): one server must not count as two',
    ],
    [
      'a server listed twice, spelt differently',
      { servers: ['a', 'Time.Example:123', 'c', 'time.example'] },
      'ntp server "time.example" is listed twice (as "Time.Example:123" and "time.example"): one server must not count as two',
    ],
    [
      'an IPv6 server listed twice',
      { servers: ['a', '[::1]:123', 'c', '::1'] },
      'ntp server "::1" is listed twice (as "[::1]:123" and "::1"): one server must not count as two',
    ],
    ...[
      ['[::1]', '[0:0:0:0:0:0:0:1]'],
      ['127.0.0.1', '[::ffff:127.0.0.1]'],
      ['[::ffff:7f00:1]', '[::ffff:127.0.0.1]'],
      ['[2001:db8::1]', '[2001:DB8:0::1]'],
    ].map(([first, second]): [string, Partial<NtpMonitoringConfig>, string] => [
      `one address in two spellings: ${first} and ${second}`,
      { servers: ['a', first!, 'c', second!] },
      `ntp server "${second}" is listed twice (as "${first}" and "${second}"): one server must not count as two`,
    ]),
  ])('refuses %s', (_name, change, message) => {
    const validate = () => validateNtpConfig({ ...valid, ...change });
    expect(validate).toThrow(NtpConfigError);
    expect(validate).toThrow(expect.objectContaining({ message }));
  });

  it('checks in Go\u2019s order: threshold before delta, Go rules before the new ones', () => {
    expect(() => validateNtpConfig({ ...valid, server_threshold: 0, request_timeout: 0 })).toThrow(
      NTP_CONFIG_ERRORS.threshold,
    );
    expect(() => validateNtpConfig({ ...valid, request_timeout: 0, period: 0 })).toThrow(
      NTP_CONFIG_ERRORS.deltaTooSmall,
    );
  });

  it('accepts one host on two ports: two servers', () => {
    expect(() =>
      validateNtpConfig({ ...valid, servers: ['a', '127.0.0.1:1123', '127.0.0.1:2123', 'd'] }),
    ).not.toThrow();
  });

  it('accepts the boundaries Go accepts', () => {
    expect(() =>
      validateNtpConfig({
        ...valid,
        server_threshold: 4,
        max_time_delta: 5,
        request_attempts: 1,
        period: 1,
      }),
    ).not.toThrow();
    expect(() =>
      validateNtpConfig({
        ...valid,
        num_servers: 1,
        server_threshold: 1,
        request_timeout: 1,
        max_time_delta: 1,
      }),
    ).not.toThrow();
    // And the upper bounds this server adds.
    expect(() =>
      validateNtpConfig({
        ...valid,
        period: 3600,
        request_timeout: 60,
        max_time_delta: 60,
        request_attempts: 10,
      }),
    ).not.toThrow();
  });
});

describe('NTP server addresses', () => {
  it.each([
    ['time.google.com', 'time.google.com', 123],
    ['127.0.0.1:10123', '127.0.0.1', 10123],
    ['[::1]:10123', '::1', 10123],
    ['[::1]', '::1', 123],
    ['::1', '::1', 123],
  ])('parses %s', (entry, host, port) => {
    expect(parseServerAddress(entry)).toEqual({ name: entry, host, port });
  });

  it.each(['host:', 'host:0', 'host:x', 'a b', 'a:b:c', '[]:1'])('refuses %s', (entry) => {
    expect(() => parseServerAddress(entry)).toThrow(/^invalid ntp server/);
  });
});
