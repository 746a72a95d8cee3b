import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs openssl; resolves with stdout+stderr, rejects with them on a non-zero exit. */
export async function openssl(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('openssl', args, {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    return stdout + stderr;
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `openssl ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? failure.message}`,
    );
  }
}

/** A temporary directory removed by the returned cleanup function. */
export function tempDir(): {
  dir: string;
  path: (name: string) => string;
  write: (name: string, data: string | Uint8Array) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'tsa-test-'));
  const path = (name: string) => join(dir, name);
  return {
    dir,
    path,
    write: (name, data) => {
      writeFileSync(path(name), data);
      return path(name);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
