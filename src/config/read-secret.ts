import { readFile } from 'node:fs/promises';
import { ConfigError } from './config-error.js';
import { unopenedSecretFile } from './secret-file.js';

/**
 * A secret given either inline (`--x`) or as a file (`--x-file`, e.g. a mounted Kubernetes Secret,
 * so it never shows in `ps`). One trailing newline is dropped: `echo secret > file` adds it.
 * Errors name the flags, never the values (not even the file's name: see option-spec.ts, secretFile).
 */
export async function readSecret(inline: string, filePath: string, flag: string): Promise<string> {
  if (inline !== '' && filePath !== '') {
    throw new ConfigError('SECRET_CONFLICT', `set only one of --${flag} and --${flag}-file`);
  }
  if (filePath === '') return inline;
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'SECRET_UNREADABLE',
      `reading ${unopenedSecretFile(`${flag}-file`, error)}`,
      { cause: error },
    );
  }
  return text.replace(/\r?\n$/, '');
}
