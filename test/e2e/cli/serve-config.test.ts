import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import { configWorkspace } from '../../helpers/config-layers.js';
import { tempDir } from '../../helpers/openssl.js';
import { runCli } from '../../helpers/spawn-server.js';

/**
 * `timestamp-server serve`'s configuration as the process reads it: the layers (flag > environment
 * > config file > default; test/unit/config/config-layers.test.ts has the rules in process), and
 * start-up errors that never print a secret (test/unit/config/config-secrets.test.ts in process).
 */

/** Planted in a secret option: it must never be printed. */
const SECRET = 'Sup3r-s3cret-value';

describe('timestamp-server serve --print-config', () => {
  it('is printed by the CLI with every layer applied, and a bad file stops the CLI before it serves', async () => {
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'port: 4000\nlog-type: prod\n');
    const printed = runCli(
      ['serve', '--print-config', '--read-timeout', '9s'],
      { HOME: dir.path('home'), PORT: '4500' },
      dir.path('cwd'),
    );
    expect(await printed.exited).toBe(0);
    expect(parse(printed.stdout())).toMatchObject({
      port: 4500,
      'log-type': 'prod',
      'read-timeout': '9s',
    });

    dir.write('cwd/timestamp-server.yaml', 'timestamp-signer: memory\nkms-key-resoruce: x\n');
    const failed = runCli(
      ['serve', '--port', '0', '--metrics-port', '0'],
      { HOME: dir.path('home') },
      dir.path('cwd'),
    );
    expect(await failed.exited).toBe(2);
    expect(failed.stderr()).toContain(
      `config file ${join(dir.path('cwd'), 'timestamp-server.yaml')}: unknown key "kms-key-resoruce"`,
    );
    expect(failed.stdout()).not.toContain('serving');
  });
});

describe('timestamp-server serve beside a Go config file it does not read', () => {
  it('stops with exit 2 naming timestamp-server.toml, where it would start with the memory signer', async () => {
    const dir = configWorkspace();
    const toml = dir.write('cwd/timestamp-server.toml', 'timestamp-signer = "kms"\n');
    const run = runCli(
      ['serve', '--port', '0', '--metrics-port', '0'],
      { HOME: dir.path('home') },
      dir.path('cwd'),
    );
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain(
      `error: config file search: found ${toml}, which the Go server reads as its config file`,
    );
    expect(run.stdout()).not.toContain('serving');
  });
});

describe('the CLI never prints a secret in a start-up error', () => {
  it('a value that YAML reads as an alias: exit 2, one line, no stack', async () => {
    const dir = tempDir();
    onTestFinished(() => dir.cleanup());
    const file = dir.write(
      'tsa.yaml',
      `timestamp-signer: memory\nfile-signer-passwd: *${SECRET}\n`,
    );
    const run = runCli(['serve', '--config', file, '--print-config']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain(`config file ${file}: cannot parse: an alias`);
    expect(run.stderr() + run.stdout()).not.toContain(SECRET);
    expect(run.stderr()).not.toMatch(/ReferenceError|\n\s+at /);
  });

  it('a mistyped secret flag (--x=value) is named without its value', async () => {
    const run = runCli(['serve', `--file-signer-pasword=${SECRET}`, '--print-config']);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toContain("unknown option '--file-signer-pasword'");
    expect(run.stderr() + run.stdout()).not.toContain(SECRET);
  });

  it('a secret from a flag, the environment (dashed and underscored) or a config file, when start-up fails', async () => {
    const dir = tempDir();
    onTestFinished(() => dir.cleanup());
    const file = dir.write('tsa.yaml', `tink-hcvault-token: ${SECRET}-file\nport: eighty\n`);
    const byFile = runCli(['serve', '--config', file, '--print-config']);
    const byEnv = runCli(['serve', '--port', 'eighty', '--print-config'], {
      'FILE-SIGNER-PASSWD': `${SECRET}-env`,
      TINK_HCVAULT_TOKEN: `${SECRET}-env2`,
    });
    const byFlag = runCli([
      'serve',
      `--file-signer-passwd=${SECRET}-flag`,
      '--tink-hcvault-token',
      `${SECRET}-flag2`,
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      dir.path('missing.pem'),
      '--certificate-chain-path',
      dir.path('missing-chain.pem'),
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--disable-ntp-monitoring',
    ]);
    for (const run of [byFile, byEnv, byFlag]) {
      expect(await run.exited).not.toBe(0);
      expect(run.stderr() + run.stdout()).not.toContain(SECRET);
    }
    expect(byFile.stderr()).toContain('invalid value for key "port"');
    expect(byEnv.stderr()).toContain('invalid value for --port');
    expect(byFlag.stdout() + byFlag.stderr()).toMatch(/cannot start/);
  });
});
