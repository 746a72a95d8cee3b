import { describe, expect, it } from 'vitest';
import { loadFromEnvAndFile } from '../../helpers/config-layers.js';

const load = (text: string, env: NodeJS.ProcessEnv) => loadFromEnvAndFile(env, text);

describe('a variable that overrides a config file key is warned about', () => {
  it("names the variable, the key, both values and the file (HOST from tcsh, a platform's PORT)", () => {
    const { config, warnings, configPath } = load('host: 127.0.0.1\nport: 3000\n', {
      HOST: 'build-box.example',
      PORT: '8080',
    });
    // The environment still wins (flags > environment > file, as in the Go server).
    expect([config.host, config.port]).toEqual(['build-box.example', 8080]);
    expect(warnings).toEqual([
      `environment variable HOST="build-box.example" overrides host: "127.0.0.1" of config file ${configPath}: the environment wins over a config file; unset HOST to use the file's`,
      `environment variable PORT="8080" overrides port: 3000 of config file ${configPath}: the environment wins over a config file; unset PORT to use the file's`,
    ]);
  });

  it('names the spelling that was set, and shows no value of a secret option', () => {
    const loaded = load('file-signer-passwd: file-Secret-1\nread-timeout: 5s\n', {
      FILE_SIGNER_PASSWD: 'env-Secret-2',
      'READ-TIMEOUT': '7s',
    });
    // (Besides the warning that the memory signer ignores the password.)
    const warnings = loaded.warnings.filter((line) => line.startsWith('environment variable'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^environment variable FILE_SIGNER_PASSWD overrides file-signer-passwd of config file .* \(values not shown: secret\)/,
    );
    expect(warnings[1]).toMatch(
      /^environment variable READ-TIMEOUT="7s" overrides read-timeout: "5s"/,
    );
    expect(loaded.warnings.join('\n')).not.toMatch(/Secret-/);
  });

  it('shows no credentials of a URI value (user:password@), as --print-config masks them', () => {
    const loaded = load('kms-key-resource: awskms:///alias/file-key\n', {
      KMS_KEY_RESOURCE: 'awskms://AKIAEXAMPLE:Secret-3@kms.example.com/alias/env-key',
    });
    // (Besides the warning that the memory signer ignores the key.)
    const warnings = loaded.warnings.filter((line) => line.startsWith('environment variable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^environment variable KMS_KEY_RESOURCE="awskms:\/\/\*{8}@kms\.example\.com\/alias\/env-key" overrides kms-key-resource: "awskms:\/\/\/alias\/file-key"/,
    );
    expect(loaded.warnings.join('\n')).not.toMatch(/Secret-|AKIAEXAMPLE/);
  });

  it('says nothing for a variable whose option the file does not set, nor for the image defaults', () => {
    const { config, warnings } = load('port: 3000\n', {
      HOST: '0.0.0.0',
      TIMESTAMP_SERVER_DEFAULT_PORT: '8080',
    });
    expect([config.host, config.port]).toEqual(['0.0.0.0', 3000]);
    expect(warnings).toEqual([]);
  });
});
