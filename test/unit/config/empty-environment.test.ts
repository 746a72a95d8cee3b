import { describe, expect, it } from 'vitest';
import { loadFromEnvAndFile } from '../../helpers/config-layers.js';

/** An empty variable is unset, as Go's viper (AllowEmptyEnv false) and go-swagger's overrides read it. */
describe('an empty environment variable', () => {
  it('leaves HOST and PORT at their defaults: loopback, not every interface; no refusal', () => {
    const { config, warnings } = loadFromEnvAndFile({ HOST: '', PORT: '', 'TIMESTAMP-SIGNER': '' });
    expect([config.host, config.port, config.timestampSigner]).toEqual([
      '127.0.0.1',
      3000,
      'memory',
    ]);
    expect(warnings).toEqual([]);
  });

  it('is not a second name of an option set by another (TLS_PRIVATE_KEY= beside TLS_KEY)', () => {
    const { config, warnings } = loadFromEnvAndFile({
      TLS_CERTIFICATE: '/c.pem',
      TLS_KEY: '/k.pem',
      TLS_PRIVATE_KEY: '',
    });
    expect(config.tlsKey).toBe('/k.pem');
    expect(warnings.join('\n')).not.toContain('TLS_PRIVATE_KEY');
  });

  it("does not override a config file's key, nor warn that it does", () => {
    const { config, warnings } = loadFromEnvAndFile({ HOST: '' }, 'host: 192.0.2.1\n');
    expect(config.host).toBe('192.0.2.1');
    expect(warnings).toEqual([]);
  });

  it('is no image default either (TIMESTAMP_SERVER_DEFAULT_HOST=)', () => {
    const { config } = loadFromEnvAndFile({ TIMESTAMP_SERVER_DEFAULT_HOST: '' });
    expect(config.host).toBe('127.0.0.1');
  });
});
