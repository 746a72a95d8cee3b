import { readFile } from 'node:fs/promises';

/**
 * A secret given either inline (`--x`) or as a file (`--x-file`, e.g. a mounted Kubernetes Secret,
 * so it never shows in `ps`). One trailing newline is dropped: `echo secret > file` adds it.
 * Errors name the flags, never the value.
 */
export async function readSecret(inline: string, filePath: string, flag: string): Promise<string> {
  if (inline !== '' && filePath !== '') {
    throw new Error(`set only one of --${flag} and --${flag}-file`);
  }
  if (filePath === '') return inline;
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    throw new Error(
      `reading --${flag}-file ${filePath}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`,
    );
  }
  return text.replace(/\r?\n$/, '');
}
