import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempDir } from '../../helpers/openssl.js';
import { runCli } from '../../helpers/spawn-server.js';

/**
 * `timestamp-server serve`'s configuration as the process reads it: the layers (flag > environment
 * > config file > default; test/unit/config/config-layers.test.ts has the rules in process).
 */

const dirs: ReturnType<typeof tempDir>[] = [];
function workspace() {
  const dir = tempDir();
  dirs.push(dir);
  mkdirSync(dir.path('home'));
  mkdirSync(dir.path('cwd'));
  return dir;
}
afterEach(() => dirs.splice(0).forEach((dir) => dir.cleanup()));

describe('timestamp-server serve --print-config', () => {
  it('is printed by the CLI with every layer applied, and a bad file stops the CLI before it serves', async () => {
    const dir = workspace();
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
