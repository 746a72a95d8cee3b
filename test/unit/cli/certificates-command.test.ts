import { chmodSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { certificatesCommand } from '../../../src/cli/timestamp-cli/certificates-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { tempDir } from '../../helpers/openssl.js';

async function run(args: string[]): Promise<unknown> {
  const command = certificatesCommand({ stdout: () => {}, stderr: () => {} });
  try {
    await command.parseAsync(args, { from: 'user' });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('timestamp-cli certificates never writes its output over a key file', () => {
  it.each([
    ['create, --output the leaf key', 'leaf.key', 'leaf'],
    ['create, --output the root key through a symlink', 'link.pem', 'root'],
  ])('%s', async (_name, output, role) => {
    const dir = tempDir();
    try {
      // Keys made first, so the refusal is not about a key still to be generated.
      const keys = ['create', '--generate-keys', 'ecdsa-p256'];
      const common = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      expect(await run([...keys, ...common, '--output', dir.path('chain.pem')])).toBeUndefined();
      symlinkSync(dir.path('root.key'), dir.path('link.pem'));
      const before = readFileSync(dir.path(`${role}.key`), 'utf8');
      const error = await run([...keys, ...common, '--output', dir.path(output)]);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('USAGE');
      expect((error as CliError).message).toBe(
        `--output ${dir.path(output)} is the ${role} key file: writing there would destroy the key`,
      );
      expect(readFileSync(dir.path(`${role}.key`), 'utf8')).toBe(before);
    } finally {
      dir.cleanup();
    }
  });

  it('create, --output a key path --generate-keys is about to write', async () => {
    const dir = tempDir();
    try {
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        dir.path('leaf.key'),
      ]);
      expect((error as CliError).message).toMatch(/is the leaf key file/);
      // Refused before anything was made.
      expect(() => readFileSync(dir.path('root.key'))).toThrow(/ENOENT/);
    } finally {
      dir.cleanup();
    }
  });

  it('csr, --output the leaf key', async () => {
    const dir = tempDir();
    try {
      const key = dir.path('leaf.key');
      await run([
        'csr',
        '--generate-keys',
        'ecdsa-p256',
        '--leaf-key',
        key,
        '--output',
        dir.path('a.csr'),
      ]);
      const before = readFileSync(key, 'utf8');
      const error = await run(['csr', '--leaf-key', key, '--output', key]);
      expect((error as CliError).message).toBe(
        `--output ${key} is the leaf key file: writing there would destroy the key`,
      );
      expect(readFileSync(key, 'utf8')).toBe(before);
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates writes its output atomically, never through a link', () => {
  it('replaces a symlink at --output instead of writing to the file it points to', async () => {
    const dir = tempDir();
    try {
      const target = dir.write('elsewhere.txt', 'keep me');
      chmodSync(target, 0o600);
      symlinkSync(target, dir.path('chain.pem'));
      const args = ['create', '--generate-keys', 'ecdsa-p256'];
      const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      expect(await run([...args, ...keys, '--output', dir.path('chain.pem')])).toBeUndefined();
      expect(lstatSync(dir.path('chain.pem')).isSymbolicLink()).toBe(false);
      expect(lstatSync(dir.path('chain.pem')).mode & 0o777).toBe(0o644);
      expect(readFileSync(dir.path('chain.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(readFileSync(target, 'utf8')).toBe('keep me');
      expect(statSync(target).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
