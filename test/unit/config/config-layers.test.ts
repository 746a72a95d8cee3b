import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DurationError, parseByteSize, parseDuration } from '../../../src/config/duration.js';
import { loadServeConfig } from '../../../src/config/load.js';
import { formatConfig, MASK } from '../../../src/config/print-config.js';
import { ConfigError, resolveServeConfig } from '../../../src/config/resolve.js';
import type { OptionSpec } from '../../../src/config/option-spec.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { configWorkspace } from '../../helpers/config-layers.js';

function load(
  dir: ReturnType<typeof configWorkspace>,
  options: { flags?: object; env?: NodeJS.ProcessEnv; configPath?: string } = {},
) {
  return loadServeConfig({
    flags: options.flags ?? {},
    env: options.env ?? {},
    configPath: options.configPath,
    searchDirs: [dir.path('home'), dir.path('cwd')],
  });
}

describe('configuration layers', () => {
  it('uses the schema defaults when nothing is given', () => {
    const { config, configFile } = load(configWorkspace());
    expect(configFile).toBeUndefined();
    expect(config.port).toBe(3000);
    expect(config.timestampSigner).toBe('memory');
    expect(config.cleanupTimeout).toBe(620_000);
    expect(config.gracefulTimeout).toBe(15_000);
    expect(config.metricsPort).toBe(2112);
  });

  it('layers defaults < file < environment < flags', () => {
    const dir = configWorkspace();
    dir.write(
      'cwd/timestamp-server.yaml',
      'port: 4000\nread-timeout: 5s\nlog-type: prod\nuse-http-201: true\n',
    );
    const env = { PORT: '5000', READ_TIMEOUT: '7s' };
    const fileOnly = load(dir).config;
    expect([fileOnly.port, fileOnly.readTimeout, fileOnly.logType, fileOnly.useHttp201]).toEqual([
      4000,
      5000,
      'prod',
      true,
    ]);
    const withEnv = load(dir, { env }).config;
    expect([withEnv.port, withEnv.readTimeout, withEnv.logType]).toEqual([5000, 7000, 'prod']);
    const withFlags = load(dir, { env, flags: { port: '6000' } }).config;
    expect([withFlags.port, withFlags.readTimeout]).toEqual([6000, 7000]);
  });

  it('finds timestamp-server.yaml in $HOME before the working directory, and honours --config', () => {
    const dir = configWorkspace();
    const inCwd = dir.write('cwd/timestamp-server.yaml', 'port: 1\n');
    expect(load(dir)).toMatchObject({ configFile: inCwd, config: { port: 1 } });
    const inHome = dir.write('home/timestamp-server.yml', 'port: 2\n');
    expect(load(dir)).toMatchObject({ configFile: inHome, config: { port: 2 } });
    const explicit = dir.write(
      'elsewhere.json',
      '{"port": 3, "accepted-policy-oids": ["1.2.3", "1.2.4"]}',
    );
    expect(load(dir, { configPath: explicit }).config).toMatchObject({
      port: 3,
      acceptedPolicyOids: ['1.2.3', '1.2.4'],
    });
  });

  it('reads FLAG_NAME, the Go dashed spelling and go-swagger TLS names from the environment', () => {
    const dir = configWorkspace();
    const config = load(dir, {
      env: {
        TIMESTAMP_SIGNER_HASH: 'SHA384',
        'INCLUDE-CHAIN-IN-RESPONSE': 'true',
        MAX_REQUEST_BODY_SIZE: '2048',
        TLS_PRIVATE_KEY: '/keys/tls.key',
        TLS_CERTIFICATE: '/keys/tls.crt',
        HOST: '0.0.0.0',
      },
    }).config;
    expect(config).toMatchObject({
      timestampSignerHash: 'sha384',
      includeChainInResponse: true,
      maxRequestBodySize: 2048,
      tlsKey: '/keys/tls.key',
      tlsCertificate: '/keys/tls.crt',
      host: '0.0.0.0',
    });
  });

  it("reads config file keys without case, as viper reads the Go server's", () => {
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'Port: 4000\nLOG-TYPE: prod\nListen-Limit: 7\n');
    expect(load(dir).config).toMatchObject({ port: 4000, logType: 'prod', maxConnections: 7 });
    dir.write('cwd/timestamp-server.yaml', 'port: 4000\nPORT: 4001\n');
    expect(() => load(dir)).toThrow(/keys "port" and "PORT" both set port, to different values/);
  });

  const failures: [string, string, RegExp][] = [
    ['unparsable YAML', 'port: [1, 2\n', /config file .*timestamp-server\.yaml: cannot parse/],
    [
      'an unknown key',
      'port: 1\ntimestamp-signr: kms\n',
      /config file .*timestamp-server\.yaml: unknown key "timestamp-signr"/,
    ],
    [
      'a bad value',
      'timestamp-signer: nope\n',
      /config file .*: invalid value for key "timestamp-signer": "nope" \(valid: memory, file, kms, tink, pkcs11\)/,
    ],
    ['a bad duration', 'graceful-timeout: 15\n', /invalid value for key "graceful-timeout": 15/],
    ['a key without value', 'port:\n', /key "port" has no value/],
    ['a list at top level', '- port\n', /expected a mapping/],
    ['a duplicated key', 'port: 1\nport: 2\n', /cannot parse/],
  ];
  for (const [what, text, message] of failures) {
    it(`stops on a config file with ${what}, naming file and key`, () => {
      const dir = configWorkspace();
      dir.write('cwd/timestamp-server.yaml', text);
      expect(() => load(dir)).toThrow(message);
    });
  }

  it('stops when --config names a missing file', () => {
    const dir = configWorkspace();
    expect(() => load(dir, { configPath: dir.path('missing.yaml') })).toThrow(
      /config file .*missing\.yaml: not found/,
    );
  });

  it('names the environment variable holding a bad value', () => {
    expect(() => load(configWorkspace(), { env: { PORT: 'eighty' } })).toThrow(
      'environment: invalid value for PORT: "eighty"',
    );
    expect(() => load(configWorkspace(), { env: { 'CLEANUP-TIMEOUT': '10 minutes' } })).toThrow(
      'environment: invalid value for CLEANUP-TIMEOUT',
    );
  });

  it('warns of a bad value that a later layer overrides, as the Go server never reads it', () => {
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'port: 4000\nread-timeout: soon\n');
    const { config, warnings } = load(dir, {
      env: { LOG_LEVEL: 'warning', PORT: 'eighty', READ_TIMEOUT: '7s' },
      flags: { logLevel: 'info', port: '5000' },
    });
    expect([config.logLevel, config.port, config.readTimeout]).toEqual(['info', 5000, 7000]);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'environment: invalid value for LOG_LEVEL: "warning" (valid: trace, debug, info, warn, error): ignored, as --log-level sets log-level',
        'environment: invalid value for PORT: "eighty" (expected a whole number in decimal digits, without a sign): ignored, as --port sets port',
        expect.stringMatching(
          /^config file .*: invalid value for key "read-timeout": "soon" \(.*\): ignored, as environment READ_TIMEOUT sets read-timeout$/,
        ),
      ]),
    );
    // The value that wins is still checked.
    expect(() => load(dir, { flags: { port: '5000' } })).toThrow(/config file .*read-timeout/);
  });

  it('says where a value a rule between options refuses came from, where not from a flag', () => {
    expect(() => load(configWorkspace(), { env: { WORKERS: '0' } })).toThrow(
      'invalid value for --workers: "0" (a number from 1 to 1024, or auto) (from environment WORKERS)',
    );
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'trusted-proxies: [10.0.0.0/8, foo]\n');
    expect(() => load(dir)).toThrow(
      /--trusted-proxies "foo" is not an IP address.* \(from config file .*timestamp-server\.yaml key "trusted-proxies"\)$/,
    );
    // A flag is named by the message itself.
    expect(() => load(configWorkspace(), { flags: { workers: '0' } })).toThrow(
      /--workers: "0" \(a number from 1 to 1024, or auto\)$/,
    );
  });

  it('names the flag holding a bad value', () => {
    expect(() => resolveServeConfig({ maxHeaderSize: 'lots' })).toThrow(
      new ConfigError(
        'INVALID_VALUE',
        'invalid value for --max-header-size: "lots" (expected bytes, or a number and a unit: 16384, 64k, 1MB, 1.5MB (decimal: 1KiB is 1000))',
      ),
    );
  });

  it('bounds --max-header-size: 0 refused every HTTP/2 request, 10GB meant no limit', () => {
    expect(resolveServeConfig({ maxHeaderSize: '1k' }).maxHeaderSize).toBe(1000);
    expect(resolveServeConfig({ maxHeaderSize: '67108864' }).maxHeaderSize).toBe(64 * 1024 * 1024);
    for (const [value, bound] of [
      ['0', 'at least 1000'],
      ['999', 'at least 1000'],
      ['67108865', 'at most 67108864'],
      ['10GB', 'at most 67108864'],
    ])
      expect(() => resolveServeConfig({ maxHeaderSize: value })).toThrow(
        new ConfigError(
          'INVALID_VALUE',
          `invalid value for --max-header-size: "${value}" (${bound})`,
        ),
      );
  });
});

describe('value kinds', () => {
  it('parses Go durations', () => {
    expect(parseDuration('620s')).toBe(620_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('500us')).toBe(0.5);
    // Go's leading '+', and its unit table's two micro signs (U+00B5, U+03BC).
    expect(parseDuration('+30s')).toBe(30_000);
    expect(parseDuration('+0')).toBe(0);
    expect(parseDuration('30000000\u00b5s')).toBe(30_000);
    expect(parseDuration('30000000\u03bcs')).toBe(30_000);
    for (const bad of ['', '+', '30', 's', '5 s', '1d', '-1s', '+-1s', '1s '])
      expect(() => parseDuration(bad)).toThrow(DurationError);
    expect(() => parseDuration('30')).toThrow('invalid duration "30": missing unit');
    expect(() => parseDuration('1d')).toThrow('invalid duration "1d": unknown unit "d"');
    expect(() => parseDuration('-1s')).toThrow(
      'invalid duration "-1s": negative: no option takes a negative duration',
    );
  });

  it('rounds a duration up to whole milliseconds: a nonzero timeout never becomes 0, which turns it off', () => {
    const config = resolveServeConfig({
      readTimeout: '999us',
      writeTimeout: '0.5ms',
      gracefulTimeout: '1.5ms',
      ledgerAnchorInterval: '1ns',
    });
    expect([config.readTimeout, config.writeTimeout, config.gracefulTimeout]).toEqual([1, 1, 2]);
    expect(config.ledgerAnchorInterval).toBe(1);
    expect(resolveServeConfig({ readTimeout: '0s' }).readTimeout).toBe(0);
  });

  it('refuses a remote signer deadline or cooldown the signer cannot use, naming the flag', () => {
    const config = resolveServeConfig({ kmsTimeout: '1m30s', kmsBreakerCooldown: '1h' });
    expect([config.kmsTimeout, config.kmsBreakerCooldown]).toEqual([90_000, 3_600_000]);
    expect(() => resolveServeConfig({ kmsTimeout: '1h' })).toThrow(
      new ConfigError('INVALID_VALUE', 'invalid value for --kms-timeout: "1h" (at most 300s)'),
    );
    expect(() => resolveServeConfig({ kmsTimeout: '0s' })).toThrow(
      new ConfigError('INVALID_VALUE', 'invalid value for --kms-timeout: "0s" (at least 1ms)'),
    );
    expect(() => resolveServeConfig({ kmsTimeout: '5' })).toThrow(
      'invalid value for --kms-timeout: "5" (missing unit',
    );
    expect(() => resolveServeConfig({ kmsBreakerCooldown: '2h' })).toThrow(
      new ConfigError(
        'INVALID_VALUE',
        'invalid value for --kms-breaker-cooldown: "2h" (at most 3600s)',
      ),
    );
    expect(() => resolveServeConfig({ kmsMaxConcurrency: '0' })).toThrow(
      new ConfigError('INVALID_VALUE', 'invalid value for --kms-max-concurrency: "0" (at least 1)'),
    );
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'kms-timeout: 10m\n');
    expect(() => load(dir)).toThrow(/config file .*: invalid value for key "kms-timeout": "10m"/);
  });

  it("parses byte sizes as go-swagger does (docker/go-units' FromHumanSize: decimal, whatever the i)", () => {
    expect(parseByteSize('1000000')).toBe(1_000_000);
    expect(parseByteSize('1MB')).toBe(1_000_000);
    expect(parseByteSize('1M')).toBe(1_000_000);
    expect(parseByteSize('64k')).toBe(64_000);
    expect(parseByteSize('64KiB')).toBe(64_000);
    expect(parseByteSize('1.5mb')).toBe(1_500_000);
    expect(parseByteSize('2 kB')).toBe(2_000);
    expect(parseByteSize('100b')).toBe(100);
    expect(parseByteSize('1.0001k')).toBe(1_000);
    for (const refused of ['1 parsec', '', 'MB', '-1', '1.', '.5k', '1e3', '1  MB', ' 1MB', '1MBB'])
      expect(parseByteSize(refused), refused).toBeUndefined();
    expect(() => resolveServeConfig({ maxHeaderSize: '64 bytes' })).toThrow(
      'invalid value for --max-header-size: "64 bytes" (expected bytes, or a number and a unit: 16384, 64k, 1MB, 1.5MB (decimal: 1KiB is 1000))',
    );
  });
});

describe('rules between options', () => {
  const refusals: [string, Record<string, unknown>, string][] = [
    [
      '--require-time-sync without NTP monitoring',
      { requireTimeSync: true, disableNtpMonitoring: true },
      '--require-time-sync needs NTP monitoring: remove --disable-ntp-monitoring',
    ],
    [
      'a zero rate-limit window',
      { rateLimitMax: 5, rateLimitWindow: 0 },
      '--rate-limit-window must be at least 1 second',
    ],
    [
      'a TLS key without certificate',
      { tlsKey: '/k.pem' },
      'the required flags `--tls-certificate` and `--tls-key` were not specified',
    ],
    [
      'a TLS CA without certificate and key',
      { tlsCa: '/ca.pem' },
      'the required flags `--tls-certificate` and `--tls-key` were not specified',
    ],
    [
      'a worker count of 0',
      { workers: '0' },
      'invalid value for --workers: "0" (a number from 1 to 1024, or auto)',
    ],
    [
      'qualified tokens from a clock the gate does not hold',
      { qualified: true },
      '--qualified needs --require-time-sync: a qualified time-stamp is never issued by a clock not checked against UTC (ETSI EN 319 421)',
    ],
    [
      'qualified tokens declaring more than 1 s',
      { qualified: true, requireTimeSync: true, accuracy: '2s' },
      '--qualified needs an accuracy of at most 1s (ETSI EN 319 421), not 2s',
    ],
    [
      'qualified tokens declaring whatever the clock measured',
      { qualified: true, requireTimeSync: true, accuracy: 'auto' },
      '--qualified needs an accuracy of at most 1s (ETSI EN 319 421), not auto',
    ],
  ];
  for (const [what, flags, message] of refusals) {
    it(`refuses ${what} when the configuration is resolved`, () => {
      expect(() => resolveServeConfig(flags)).toThrow(
        expect.objectContaining({ name: 'ConfigError', message }),
      );
    });
  }

  it('accepts the same options apart', () => {
    expect(() => resolveServeConfig({ requireTimeSync: true })).not.toThrow();
    expect(() => resolveServeConfig({ rateLimitWindow: 0 })).not.toThrow();
    expect(() => resolveServeConfig({ tlsKey: '/k', tlsCertificate: '/c' })).not.toThrow();
    expect(() => resolveServeConfig({ qualified: true, requireTimeSync: true })).not.toThrow();
    expect(() =>
      resolveServeConfig({ qualified: true, requireTimeSync: true, accuracy: '250ms' }),
    ).not.toThrow();
    expect(() =>
      resolveServeConfig({ qualified: true, requireNts: true, timeSource: 'chrony' }),
    ).not.toThrow();
  });
});

describe('--print-config', () => {
  it('prints a config file that reads back to the same configuration', () => {
    const dir = configWorkspace();
    const config = resolveServeConfig({
      port: '4321',
      cleanupTimeout: '10m',
      acceptedPolicyOids: '1.2.3,1.2.4',
    });
    const path = dir.write('cwd/timestamp-server.yaml', formatConfig(config));
    expect(load(dir).config).toEqual(config);
    expect(load(dir, { configPath: path }).config).toEqual(config);
  });

  it('masks options marked secret and only those', () => {
    const schema: Record<string, OptionSpec<unknown>> = {
      ...SERVE_OPTIONS,
      vaultToken: {
        flag: 'vault-token',
        kind: 'string',
        default: '',
        secret: true,
        description: 'test',
      },
    };
    const printed = parse(
      formatConfig(
        {
          ...resolveServeConfig({ tlsKey: '/k.pem', tlsCertificate: '/c.pem' }),
          vaultToken: 's.hunter2',
        } as never,
        schema,
      ),
    ) as Record<string, unknown>;
    expect(printed['vault-token']).toBe(MASK);
    expect(printed['tls-key']).toBe('/k.pem');
    expect(JSON.stringify(printed)).not.toContain('hunter2');
  });

  it('masks the credentials of a URI in any option (printed before the key URI checks refuse it)', () => {
    const printed = parse(
      formatConfig({
        ...resolveServeConfig({
          timestampSigner: 'tink',
          tinkKeyResource: 'hcvault://u:hunter2@127.0.0.1:8200/transit/keys/k',
        }),
      }),
    ) as Record<string, unknown>;
    expect(printed['tink-key-resource']).toBe(`hcvault://${MASK}@127.0.0.1:8200/transit/keys/k`);
    expect(JSON.stringify(printed)).not.toContain('hunter2');
  });
});
