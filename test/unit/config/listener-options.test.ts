import { afterAll, describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { configRefusal as refusal } from '../../helpers/config-layers.js';
import { tempDir } from '../../helpers/openssl.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

/** The configuration from these layers only (no $HOME or working-directory file). */
function load(options: { flags?: object; env?: NodeJS.ProcessEnv; file?: string }) {
  return loadServeConfig({
    flags: options.flags ?? {},
    env: options.env ?? {},
    configPath: options.file === undefined ? undefined : dir.write('tsa.yaml', options.file),
    searchDirs: [],
  }).config;
}

/** The ConfigError `run` throws (fails the test when it throws none, or another error). */

const TLS = { tlsCertificate: '/tls.crt', tlsKey: '/tls.key' };

describe('port options', () => {
  const ports = [
    ['--port', 'port', 'PORT', 'port'],
    ['--metrics-port', 'metricsPort', 'METRICS_PORT', 'metrics-port'],
    ['--tls-port', 'tlsPort', 'TLS_PORT', 'tls-port'],
  ] as const;

  it.each(ports)('%s above 65535 is refused up front, from any layer', (flag, name, env, key) => {
    const fromFlag = refusal(() => load({ flags: { [name]: '70000' } }));
    expect(fromFlag.code).toBe('INVALID_VALUE');
    expect(fromFlag.message).toBe(`invalid value for ${flag}: "70000" (at most 65535)`);
    expect(refusal(() => load({ env: { [env]: '99999' } })).message).toBe(
      `environment: invalid value for ${env}: "99999" (at most 65535)`,
    );
    expect(refusal(() => load({ file: `${key}: 99999\n` })).message).toContain(
      `invalid value for key "${key}": 99999 (at most 65535)`,
    );
    expect(refusal(() => load({ flags: { [name]: '-1' } })).code).toBe('INVALID_VALUE');
  });

  it.each(ports)('%s takes 0 (any free port) and 65535', (_flag, name) => {
    expect(load({ flags: { [name]: '0', ...TLS } })[name]).toBe(0);
    expect(load({ flags: { [name]: '65535', ...TLS } })[name]).toBe(65_535);
  });
});

describe('two listeners on one port', () => {
  it('is refused naming both options, for --port and --metrics-port', () => {
    const error = refusal(() => resolveServeConfig({ port: 4030, metricsPort: 4030 }));
    expect(error.code).toBe('CONFLICTING_OPTIONS');
    expect(error.message).toBe(
      '--port and --metrics-port are both 4030 on 127.0.0.1: two listeners cannot share a port; ' +
        'choose another --metrics-port (0: any free port)',
    );
  });

  it('is refused for --tls-port when the HTTPS listener runs, not when it does not', () => {
    expect(
      refusal(() => resolveServeConfig({ port: 3443, tlsPort: 3443, ...TLS })).message,
    ).toMatch(/^--port and --tls-port are both 3443 on 127\.0\.0\.1/);
    expect(
      refusal(() => resolveServeConfig({ metricsPort: 3443, tlsPort: 3443, ...TLS })).message,
    ).toMatch(/^--metrics-port and --tls-port are both 3443/);
    // Without --tls-certificate and --tls-key there is no HTTPS listener to collide with.
    expect(resolveServeConfig({ port: 3443, tlsPort: 3443 }).port).toBe(3443);
  });

  it('is refused where one address is a wildcard, allowed on two distinct addresses', () => {
    expect(
      refusal(() =>
        resolveServeConfig({ host: '0.0.0.0', metricsHost: '127.0.0.1', metricsPort: 3000 }),
      ).message,
    ).toContain('are both 3000 on 0.0.0.0 and 127.0.0.1');
    expect(
      refusal(() => resolveServeConfig({ host: '::', tlsHost: '10.0.0.1', tlsPort: 3000, ...TLS }))
        .code,
    ).toBe('CONFLICTING_OPTIONS');
    const apart = resolveServeConfig({ metricsHost: '127.0.0.2', port: 3000, metricsPort: 3000 });
    expect(apart.metricsHost).toBe('127.0.0.2');
    expect(
      resolveServeConfig({ port: 3000, metricsHost: '10.0.0.1', metricsPort: 3000 }).metricsPort,
    ).toBe(3000);
  });

  it('never counts 0, which is any free port for each listener', () => {
    expect(resolveServeConfig({ port: 0, metricsPort: 0, tlsPort: 0, ...TLS }).port).toBe(0);
  });
});

describe('timeouts that arm a timer', () => {
  // Past 2^31-1 ms Node fires a timer after 1 ms (TimeoutOverflowWarning): a 600h drain would end
  // at once. A day is the most each takes, from any layer.
  const timeouts = [
    ['--read-timeout', 'readTimeout', 'READ_TIMEOUT', 'read-timeout'],
    ['--write-timeout', 'writeTimeout', 'WRITE_TIMEOUT', 'write-timeout'],
    ['--cleanup-timeout', 'cleanupTimeout', 'CLEANUP_TIMEOUT', 'cleanup-timeout'],
    ['--graceful-timeout', 'gracefulTimeout', 'GRACEFUL_TIMEOUT', 'graceful-timeout'],
  ] as const;

  it.each(timeouts)('%s is at most 24h', (flag, name, env, key) => {
    expect(load({ flags: { [name]: '24h' } })[name]).toBe(86_400_000);
    expect(refusal(() => load({ flags: { [name]: '600h' } })).message).toBe(
      `invalid value for ${flag}: "600h" (at most 86400s)`,
    );
    expect(refusal(() => load({ env: { [env]: '24h1ms' } })).code).toBe('INVALID_VALUE');
    expect(refusal(() => load({ file: `${key}: 25h\n` })).message).toContain(
      `invalid value for key "${key}": "25h" (at most 86400s)`,
    );
  });

  it('--rate-limit-window is at most 86400 seconds', () => {
    expect(load({ flags: { rateLimitWindow: '86400' } }).rateLimitWindow).toBe(86_400);
    expect(refusal(() => load({ flags: { rateLimitWindow: '2160000' } })).message).toBe(
      'invalid value for --rate-limit-window: "2160000" (at most 86400)',
    );
  });
});
