import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { normalizeFlags, type FlagSpellings } from '../../../src/cli/go-flag-spellings.js';
import { checkServeConfig } from '../../../src/config/rules.js';
import { loadServeConfig } from '../../../src/config/load.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { tempDir } from '../../helpers/openssl.js';
import { runCli, spawnServer, type SpawnedServer } from '../../helpers/spawn-server.js';

/**
 * Every flag the Go server (v2: cmd/timestamp-server root flags and go-swagger's listener flags)
 * accepts, with a value it accepts, and the key and value `--print-config` shows for it here.
 */
const GO_FLAGS: [flag: string, value: string, key: string, printed: unknown][] = [
  ['log-type', 'prod', 'log-type', 'prod'],
  ['enable-pprof', 'false', 'enable-pprof', false],
  ['http-ping-only', 'true', 'http-ping-only', true],
  ['enforce-intermediate-eku', 'false', 'enforce-intermediate-eku', false],
  ['use-http-201', 'true', 'use-http-201', true],
  ['timestamp-signer', 'kms', 'timestamp-signer', 'kms'],
  ['timestamp-signer-hash', 'sha384', 'timestamp-signer-hash', 'sha384'],
  ['include-chain-in-response', 'true', 'include-chain-in-response', true],
  ['kms-key-resource', 'gcpkms://k', 'kms-key-resource', 'gcpkms://k'],
  ['tink-key-resource', 'gcp-kms://k', 'tink-key-resource', 'gcp-kms://k'],
  ['tink-keyset-path', '/k.json', 'tink-keyset-path', '/k.json'],
  ['tink-hcvault-token', 'tok', 'tink-hcvault-token', '********'],
  ['certificate-chain-path', '/c.pem', 'certificate-chain-path', '/c.pem'],
  ['file-signer-key-path', '/k.pem', 'file-signer-key-path', '/k.pem'],
  ['file-signer-passwd', 'pw', 'file-signer-passwd', '********'],
  ['ntp-monitoring', '/ntp.yaml', 'ntp-monitoring', '/ntp.yaml'],
  ['disable-ntp-monitoring', 'true', 'disable-ntp-monitoring', true],
  ['http-request-id-header-name', 'X-Id', 'http-request-id-header-name', 'X-Id'],
  ['max-request-body-size', '2048', 'max-request-body-size', 2048],
  ['cleanup-timeout', '10m', 'cleanup-timeout', '600s'],
  ['default-policy-oid', '1.2.3', 'default-policy-oid', '1.2.3'],
  ['accepted-policy-oids', '1.2.3,1.2.4', 'accepted-policy-oids', ['1.2.3', '1.2.4']],
  ['allow-custom-extensions', 'true', 'allow-custom-extensions', true],
  ['scheme', 'http,https', 'scheme', ['http', 'https']],
  ['host', '0.0.0.0', 'host', '0.0.0.0'],
  ['port', '3004', 'port', 3004],
  ['listen-limit', '7', 'max-connections', 7],
  ['keep-alive', '3m', 'keep-alive', '180s'],
  ['read-timeout', '20s', 'read-timeout', '20s'],
  ['write-timeout', '25s', 'write-timeout', '25s'],
  ['graceful-timeout', '5s', 'graceful-timeout', '5s'],
  ['max-header-size', '1MB', 'max-header-size', 1_000_000],
  ['socket-path', '/run/tsa.sock', 'socket-path', '/run/tsa.sock'],
  ['tls-host', '127.0.0.2', 'tls-host', '127.0.0.2'],
  ['tls-port', '3443', 'tls-port', 3443],
  ['tls-certificate', '/tls.crt', 'tls-certificate', '/tls.crt'],
  ['tls-key', '/tls.key', 'tls-key', '/tls.key'],
  ['tls-ca', '/ca.pem', 'tls-ca', '/ca.pem'],
  ['tls-listen-limit', '7', 'tls-listen-limit', 7],
  ['tls-keep-alive', '3m', 'tls-keep-alive', '180s'],
  ['tls-read-timeout', '20s', 'tls-read-timeout', '20s'],
  ['tls-write-timeout', '25s', 'tls-write-timeout', '25s'],
];

const dirs: ReturnType<typeof tempDir>[] = [];
let server: SpawnedServer | undefined;
afterEach(async () => {
  dirs.splice(0).forEach((dir) => dir.cleanup());
  await server?.stop();
  server = undefined;
});

async function printConfig(args: string[]): Promise<Record<string, unknown>> {
  const run = runCli(args, { HOME: '/nonexistent' });
  const code = await run.exited;
  expect(run.stderr()).toBe('');
  expect(code).toBe(0);
  return parse(run.stdout()) as Record<string, unknown>;
}

describe('the Go server flags', () => {
  const expected = Object.fromEntries(GO_FLAGS.map(([, , key, printed]) => [key, printed]));

  it('are all accepted, dashed, half of them before `serve` as Go persistent flags', async () => {
    const flags = GO_FLAGS.map(([flag, value]) => `--${flag}=${value}`);
    const half = Math.ceil(flags.length / 2);
    const printed = await printConfig([
      ...flags.slice(0, half),
      'serve',
      ...flags.slice(half),
      '--print-config',
    ]);
    expect(printed).toMatchObject(expected);
  });

  it('are all accepted with underscores (--log_type=prod, as sigstore Helm charts write)', async () => {
    const flags = GO_FLAGS.flatMap(([flag, value]) =>
      // Space-separated values too, except Go booleans, which pflag only takes as --flag=value.
      ['true', 'false'].includes(value)
        ? [`--${flag.replaceAll('-', '_')}=${value}`]
        : [`--${flag.replaceAll('-', '_')}`, value],
    );
    const printed = await printConfig(['serve', ...flags, '--print-config']);
    expect(printed).toMatchObject(expected);
  });

  it('--config before serve, and a Go boolean alone never takes the next argument', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = dir.write('tsa.yaml', 'listen-limit: 9\nlog-level: warn\n');
    const printed = await printConfig([
      `--config=${file}`,
      '--disable-ntp-monitoring',
      'serve',
      '--use-http-201',
      '--print-config',
    ]);
    expect(printed).toMatchObject({
      'max-connections': 9,
      'log-level': 'warn',
      'disable-ntp-monitoring': true,
      'use-http-201': true,
    });
  });

  it('a flag given before serve and after it: the last wins, and a list adds up, as pflag', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const printed = await printConfig([
      '--port',
      '7000',
      '--disable-ntp-monitoring',
      `--config=${dir.write('a.yaml', 'log-level: warn\n')}`,
      '--accepted-policy-oids',
      '1.2.3',
      'serve',
      '--port',
      '8000',
      '--disable-ntp-monitoring=false',
      `--config=${dir.write('b.yaml', 'log-level: error\n')}`,
      '--accepted-policy-oids',
      '1.2.4',
      '--print-config',
    ]);
    expect(printed).toMatchObject({
      port: 8000,
      'disable-ntp-monitoring': false,
      'log-level': 'error',
      'accepted-policy-oids': ['1.2.3', '1.2.4'],
    });
  });

  it('reads Go-only options and aliases from the environment like the others', () => {
    const { config, warnings } = loadServeConfig({
      flags: {},
      env: { 'LISTEN-LIMIT': '4', ENABLE_PPROF: 'true', SCHEME: 'http' },
      searchDirs: [],
    });
    expect([config.maxConnections, config.enablePprof, config.scheme]).toEqual([4, true, ['http']]);
    // The config rules' warnings come with the configuration, for the CLI to print.
    expect(warnings).toEqual([expect.stringMatching(/^--enable-pprof is ignored/)]);
  });
});

describe('Go-only features', () => {
  const check = (values: Partial<Record<ServeOptionName, unknown>>) =>
    checkServeConfig(resolveServeConfig(values));

  it('warn where a value has no effect here', () => {
    expect(check({})).toEqual([]);
    expect(check({ enablePprof: 'true' })).toEqual([
      expect.stringMatching(/^--enable-pprof is ignored: this server has no pprof endpoint/),
    ]);
    expect(check({ keepAlive: '0', tlsKeepAlive: '0s', socketPath: '/run/x.sock' })).toEqual([
      expect.stringMatching(/^--keep-alive 0 is ignored: keep-alive is always on here/),
      expect.stringMatching(/^--tls-keep-alive 0 is ignored/),
      '--socket-path is ignored: this server does not listen on a Unix socket',
    ]);
  });

  it('accept --scheme values that match the listeners, refuse the others with the reason', () => {
    const tls = { tlsCertificate: '/c', tlsKey: '/k' };
    expect(check({ scheme: 'http' })).toEqual([]);
    expect(check({ scheme: 'http,https', ...tls })).toEqual([]);
    expect(() => check({ scheme: 'http,unix' })).toThrow(
      '--scheme unix is not supported: this server listens on TCP only',
    );
    expect(() => check({ scheme: 'https', ...tls })).toThrow(
      '--scheme without http is not supported: the plain-HTTP listener always runs here; add --http-ping-only',
    );
    expect(() => check({ scheme: 'http,https' })).toThrow(
      '--scheme https: the required flags `--tls-certificate` and `--tls-key` were not specified',
    );
    expect(() => check({ scheme: 'http', ...tls })).toThrow(
      '--scheme lacks https but --tls-certificate, --tls-key or --tls-ca is set',
    );
    expect(() => check({ scheme: 'gopher' })).toThrow('invalid value for --scheme: "gopher"');
  });

  it('accept the TLS listener limits only where they equal the ones applied', () => {
    expect(check({ tlsReadTimeout: '30s', tlsWriteTimeout: '30s', tlsListenLimit: '0' })).toEqual(
      [],
    );
    expect(check({ maxConnections: '50', tlsListenLimit: '50' })).toEqual([]);
    expect(() => check({ tlsListenLimit: '10' })).toThrow(
      '--tls-listen-limit 10 differs from --max-connections 0: here --max-connections applies to the HTTP and HTTPS listeners alike',
    );
    expect(() => check({ readTimeout: '10s', tlsReadTimeout: '30s' })).toThrow(
      '--tls-read-timeout 30s differs from --read-timeout 10s',
    );
    expect(() => check({ tlsWriteTimeout: '1m' })).toThrow(
      '--tls-write-timeout 60s differs from --write-timeout 30s',
    );
  });

  it('a refusal stops the CLI with exit code 2 and the reason, never "unknown option"', async () => {
    const run = runCli(['serve', '--scheme=unix', '--socket-path=/run/tsa.sock', '--print-config']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('--scheme unix is not supported');
    expect(run.stderr()).not.toContain('unknown option');
  });

  it('a warning is logged by a serving server', async () => {
    server = await spawnServer(['--enable_pprof', '--keep-alive=0', '--disable-ntp-monitoring']);
    const messages = server.lines.map((line) => (JSON.parse(line) as { message: string }).message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--enable-pprof is ignored/),
        expect.stringMatching(/^--keep-alive 0 is ignored/),
      ]),
    );
  });
});

describe('the command-line normaliser', () => {
  const spellings: FlagSpellings = {
    known: new Set(['log-type', 'max-connections', 'verify-tokens', 'file-signer-passwd']),
    valued: new Set(['log-type', 'max-connections', 'file-signer-passwd']),
    booleans: new Set(['verify-tokens']),
    aliases: new Map([['listen-limit', 'max-connections']]),
  };

  it('rewrites names, never values', () => {
    expect(
      normalizeFlags(
        [
          '--log_type',
          '--weird_value',
          '--listen_limit=3',
          '--verify_tokens',
          'serve',
          '--file-signer-passwd=a_b=c',
          '--',
          '--log_type',
        ],
        spellings,
      ),
    ).toEqual([
      '--log-type',
      '--weird_value',
      '--max-connections=3',
      '--verify-tokens=true',
      'serve',
      '--file-signer-passwd=a_b=c',
      '--',
      '--log_type',
    ]);
  });

  it('drops the value of an unknown --flag=value', () => {
    expect(normalizeFlags(['--file-signer-pasword=Sup3r', '-h'], spellings)).toEqual([
      '--file-signer-pasword',
      '-h',
    ]);
  });
});
