import { readRegularFileCapped } from '../capped-read.js';
import { ConfigError } from './config-error.js';
import { unopenedSecretFile } from './secret-file.js';

/** Far above any password or token; bounds what a wrong path costs. */
const MAX_SECRET_FILE_BYTES = 64 << 10;

/**
 * A secret given either inline (`--x`) or as a file (`--x-file`, e.g. a mounted Kubernetes Secret,
 * so it never shows in `ps`). One trailing newline is dropped: `echo secret > file` adds it. An
 * empty file is refused.
 * Errors name the flags, never the values (not even the file's name: see option-spec.ts, secretFile).
 */
export async function readSecret(inline: string, filePath: string, flag: string): Promise<string> {
  if (inline !== '' && filePath !== '') {
    throw new ConfigError('SECRET_CONFLICT', `set only one of --${flag} and --${flag}-file`);
  }
  if (filePath === '') return inline;
  const unreadable = (why: string) =>
    new ConfigError('SECRET_UNREADABLE', `reading --${flag}-file (the file it names): ${why}`);
  let text: string;
  try {
    text = (
      await readRegularFileCapped(filePath, MAX_SECRET_FILE_BYTES, {
        notRegular: () => unreadable('not a regular file (a FIFO, a device or a folder)'),
        tooLarge: () => unreadable(`larger than ${MAX_SECRET_FILE_BYTES} bytes, not a secret`),
      })
    ).toString('utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      'SECRET_UNREADABLE',
      `reading ${unopenedSecretFile(`${flag}-file`, error)}`,
      { cause: error },
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  // As VAULT_TOKEN_FILE: an empty file (a Secret not yet written, the wrong file) is an error,
  // not "no secret", which would fall back to another credential (VAULT_TOKEN for the Tink KEK).
  if (secret === '')
    throw unreadable(`it is empty: write the secret in it, or leave --${flag}-file out`);
  return secret;
}
