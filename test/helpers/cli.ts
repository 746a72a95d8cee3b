import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapChild } from './process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_JS = join(ROOT, 'dist', 'src', 'cli', 'timestamp-cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the BUILT timestamp-cli (`npm run build` or `make test` first), as users run it: with PATH,
 * HOME and `env` alone (not childEnvironment(), which keeps the CLI's own TIMESTAMP_* variables);
 * killed if the test fails first (reapChild).
 */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  if (!existsSync(CLI_JS))
    throw new Error(`${CLI_JS} is missing: run \`npm run build\` (make test does)`);
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI_JS, ...args],
      {
        cwd: options.cwd ?? ROOT,
        // HOME points away from any real ~/.timestamp.yaml.
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: options.cwd ?? '/nonexistent',
          ...options.env,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    reapChild(child);
  });
}
