import { expect, it } from 'vitest';
import { unopenedSecretFile } from '../../../src/config/secret-file.js';

const errno = (code: string, path: string) =>
  Object.assign(new Error(`${code}: open '${path}'`), { code, path });

it('names a secret file by its flag, never by its value, and says as whom EACCES refused it', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIGH…\n-----END PRIVATE KEY-----';
  expect(unopenedSecretFile('tls-key', errno('ENOENT', key))).toBe(
    '--tls-key (the file it names): ENOENT',
  );
  // A folder on the way may be the one refused: the value is no path that exists.
  expect(unopenedSecretFile('tls-key', errno('EACCES', key))).toBe(
    `--tls-key (the file it names): EACCES (permission denied to uid ${process.getuid?.()})`,
  );
  expect(unopenedSecretFile('tls-key', new Error('no code'))).toBe(
    '--tls-key (the file it names): failed',
  );
});
