import { describe, expect, it } from 'vitest';
import { environmentName } from '../../../src/config/environment.js';
import { loadServeConfig } from '../../../src/config/load.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { loadFromEnvAndFile as load } from '../../helpers/config-layers.js';

describe('image defaults: TIMESTAMP_SERVER_DEFAULT_<FLAG_NAME>, below the config file', () => {
  const image = { TIMESTAMP_SERVER_DEFAULT_HOST: '0.0.0.0' };

  it('sets a default that a config file, the environment and a flag each beat', () => {
    expect(load(image).config.host).toBe('0.0.0.0');
    expect(load(image, 'port: 3000\n').config.host).toBe('0.0.0.0');
    // The operator binding to loopback behind a sidecar gets loopback, metrics included.
    const file = load(image, 'host: 127.0.0.1\n').config;
    expect([file.host, file.metricsHost]).toEqual(['127.0.0.1', '']);
    expect(load({ ...image, HOST: '10.0.0.7' }, 'host: 127.0.0.1\n').config.host).toBe('10.0.0.7');
    const flags = loadServeConfig({ flags: { host: '::1' }, env: image, searchDirs: [] });
    expect(flags.config.host).toBe('::1');
  });

  it('parses and bounds values as the other layers do, naming the variable', () => {
    expect(load({ TIMESTAMP_SERVER_DEFAULT_PORT: '8080' }).config.port).toBe(8080);
    expect(() => load({ TIMESTAMP_SERVER_DEFAULT_PORT: '70000' })).toThrow(
      'image defaults: invalid value for TIMESTAMP_SERVER_DEFAULT_PORT: "70000" (at most 65535)',
    );
  });

  it("takes an option's other names as the other layers do, naming the one used", () => {
    // LISTEN_LIMIT was refused here ("names no option"), though a flag, variable and key.
    expect(load({ TIMESTAMP_SERVER_DEFAULT_LISTEN_LIMIT: '5' }).config.maxConnections).toBe(5);
    expect(() => load({ TIMESTAMP_SERVER_DEFAULT_LISTEN_LIMIT: 'many' })).toThrow(
      'image defaults: invalid value for TIMESTAMP_SERVER_DEFAULT_LISTEN_LIMIT: "many"',
    );
    expect(() =>
      load({
        TIMESTAMP_SERVER_DEFAULT_LISTEN_LIMIT: '5',
        TIMESTAMP_SERVER_DEFAULT_MAX_CONNECTIONS: '6',
      }),
    ).toThrow(
      /^image defaults: TIMESTAMP_SERVER_DEFAULT_\w+ and TIMESTAMP_SERVER_DEFAULT_\w+ both set --max-connections, to different values: unset one$/,
    );
  });

  it('refuses a variable that names no option, and a secret option', () => {
    expect(() => load({ TIMESTAMP_SERVER_DEFAULT_HOSTT: '0.0.0.0' })).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_KEY',
        message: expect.stringContaining('TIMESTAMP_SERVER_DEFAULT_HOSTT names no option'),
      }),
    );
    let error: unknown;
    try {
      load({ TIMESTAMP_SERVER_DEFAULT_FILE_SIGNER_PASSWD: 'hunter2' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ name: 'ConfigError', code: 'INVALID_VALUE' });
    expect(String((error as Error).message)).toContain(
      'TIMESTAMP_SERVER_DEFAULT_FILE_SIGNER_PASSWD',
    );
    expect(String((error as Error).message)).not.toContain('hunter2');
  });

  it('points a refused secret to its file option or the environment, never to its flag', () => {
    const refusal = (variable: string) => {
      try {
        load({ [variable]: 'hunter2' });
      } catch (error) {
        return String((error as Error).message);
      }
      throw new Error(`${variable} was accepted`);
    };
    expect(refusal('TIMESTAMP_SERVER_DEFAULT_FILE_SIGNER_PASSWD')).toContain(
      'give it at run time with --file-signer-passwd-file or the FILE_SIGNER_PASSWD environment variable',
    );
    expect(refusal('TIMESTAMP_SERVER_DEFAULT_TINK_HCVAULT_TOKEN')).toContain(
      'give it at run time with --tink-hcvault-token-file or the TINK_HCVAULT_TOKEN environment variable',
    );
    expect(refusal('TIMESTAMP_SERVER_DEFAULT_LEDGER_URL')).toContain(
      'give it at run time with the LEDGER_URL environment variable or a mounted config file',
    );
    for (const spec of Object.values(SERVE_OPTIONS).filter((option) => option.secret)) {
      const message = refusal(`TIMESTAMP_SERVER_DEFAULT_${environmentName(spec)}`);
      expect(message).not.toMatch(new RegExp(`--${spec.flag}(?!-file)`));
      expect(message).toContain(`the ${environmentName(spec)} environment variable`);
    }
  });
});
