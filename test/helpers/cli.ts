import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd } from './process.js';

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
 * no deadline of its own: killed if the test fails or times out first (runToEnd).
 */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  if (!existsSync(CLI_JS))
    throw new Error(`${CLI_JS} is missing: run \`npm run build\` (make test does)`);
  const run = await runToEnd(process.execPath, [CLI_JS, ...args], {
    cwd: options.cwd ?? ROOT,
    // HOME points away from any real ~/.timestamp.yaml.
    env: { PATH: process.env['PATH'] ?? '', HOME: options.cwd ?? '/nonexistent', ...options.env },
  });
  // A signal (the test's failure, through reapChild) is exit status 1.
  return { code: run.status ?? 1, stdout: run.stdout, stderr: run.stderr };
}
