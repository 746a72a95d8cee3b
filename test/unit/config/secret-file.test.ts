import { expect, it } from 'vitest';
import { unopenedSecretFile } from '../../../src/config/secret-file.js';

const errno = (code: string, path: string) =>
  Object.assign(new Error(`${code}: open '${path}'`), { code, path });

it('names a secret file by its flag, and by its path only where the path exists (EACCES, EISDIR)', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIGH…\n-----END PRIVATE KEY-----';
  expect(unopenedSecretFile('tls-key', errno('ENOENT', key))).toBe(
    '--tls-key (the file it names): ENOENT',
  );
  expect(unopenedSecretFile('tls-key', errno('EACCES', '/etc/tls/tls.key'))).toBe(
    `--tls-key /etc/tls/tls.key: permission denied (EACCES): the server runs as uid ${process.getuid?.()}`,
  );
  expect(unopenedSecretFile('tls-key', errno('EISDIR', '/etc/tls'))).toBe(
    '--tls-key /etc/tls: a folder, not a file (EISDIR)',
  );
  expect(unopenedSecretFile('tls-key', new Error('no code'))).toBe(
    '--tls-key (the file it names): failed',
  );
});
