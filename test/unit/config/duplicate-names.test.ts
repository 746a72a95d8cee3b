import { describe, expect, it } from 'vitest';
import {
  configRefusal as refusal,
  loadFromEnvAndFile as load,
} from '../../helpers/config-layers.js';

describe('two names of one option in the environment', () => {
  it('are refused where their values differ, naming both and neither value', () => {
    // Was settled silently by search order: MAX_CONNECTIONS won, LISTEN_LIMIT was ignored.
    const aliases = refusal(() => load({ MAX_CONNECTIONS: '10', LISTEN_LIMIT: '5000' }));
    expect(aliases.code).toBe('CONFLICTING_OPTIONS');
    expect(aliases.message).toBe(
      'environment: MAX_CONNECTIONS and LISTEN_LIMIT both set --max-connections, to different values: unset one',
    );
    expect(refusal(() => load({ TIME_SOURCE: 'sntp', 'TIME-SOURCE': 'chrony' })).message).toBe(
      'environment: TIME_SOURCE and TIME-SOURCE both set --time-source, to different values: unset one',
    );
    const secret = refusal(() =>
      load({ FILE_SIGNER_PASSWD: 'Secret-one', 'FILE-SIGNER-PASSWD': 'Secret-two' }),
    );
    expect(secret.message).not.toContain('Secret-');
  });

  it('are accepted with a warning where they agree', () => {
    const { config, warnings } = load({
      MAX_CONNECTIONS: '10',
      LISTEN_LIMIT: '10',
      'LISTEN-LIMIT': '10',
    });
    expect(config.maxConnections).toBe(10);
    expect(warnings).toEqual([
      'environment: MAX_CONNECTIONS and LISTEN_LIMIT and LISTEN-LIMIT all set --max-connections (to the same value): unset all but one',
    ]);
  });

  it('count a name once where two spellings are the same (HOST, TLS_CERTIFICATE)', () => {
    const { config, warnings } = load({ HOST: '0.0.0.0', TLS_CERTIFICATE: '/c', TLS_KEY: '/k' });
    expect([config.host, config.tlsCertificate]).toEqual(['0.0.0.0', '/c']);
    expect(warnings).toEqual([]);
  });
});

describe('two names of one option in a config file', () => {
  it('are refused where their values differ, naming both keys', () => {
    const error = refusal(() => load({}, 'max-connections: 10\nlisten-limit: 5000\n'));
    expect(error.code).toBe('CONFLICTING_OPTIONS');
    expect(error.message).toMatch(
      /^config file .*tsa\.yaml: keys "max-connections" and "listen-limit" both set max-connections, to different values: remove one$/,
    );
  });

  it('are accepted with a warning where they agree; an error names the key the file used', () => {
    const { config, warnings } = load({}, 'listen-limit: 10\nmax-connections: 10\n');
    expect(config.maxConnections).toBe(10);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^config file .*: keys "listen-limit" and "max-connections" both set max-connections \(to the same value\): remove one$/,
      ),
    ]);
    // A number and the same number quoted are one value, as on the command line.
    expect(load({}, 'listen-limit: 10\nmax-connections: "10"\n').config.maxConnections).toBe(10);
    expect(refusal(() => load({}, 'listen-limit: many\n')).message).toContain(
      'invalid value for key "listen-limit": "many"',
    );
  });
});

describe('the lists of a config file', () => {
  it('are one key whatever its case: two are refused, where the second replaced the first', () => {
    for (const [first, second] of [
      ['profiles', 'Profiles'],
      ['previous-chains', 'PREVIOUS-CHAINS'],
    ] as const) {
      const error = refusal(() => load({}, `${first}: []\n${second}: []\n`));
      expect(error.code).toBe('CONFLICTING_OPTIONS');
      expect(error.message).toMatch(
        new RegExp(
          `^config file .*tsa\\.yaml: keys "${first}" and "${second}" both set ${first.toLowerCase()}: make them one list$`,
        ),
      );
    }
  });
});
