import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';
import { tempDir } from './openssl.js';
import { waitUntil } from './poll.js';
import { childEnvironment } from './process.js';
import { REPO_ROOT } from './spawn-server.js';

const HOLD = pathToFileURL(join(REPO_ROOT, 'test', 'helpers', 'hold-import.mjs')).href;

export interface HeldProcess {
  child: ChildProcess;
  /** Resolves once the import is held; rejects, with its stderr, if the process ended first. */
  held: Promise<void>;
  /** Lets the held import finish. */
  release(): void;
  /** Resolves once the process has ended and its output is read ('close', not 'exit'). */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ended(): boolean;
  stdout(): string;
  stderr(): string;
}

/**
 * Runs `node --import hold-import.mjs <args>` (under `wrapper`, e.g. unshare), whose import of the
 * first module matching `module` (a regular expression over its URL) is held until `release()`
 * (test/helpers/hold-import.mjs). Called in a test: the process is killed and its folder removed
 * when the test ends.
 */
export function spawnHeldAtImport(
  module: string,
  args: readonly string[],
  wrapper: readonly string[] = [],
  /** Variables added to the child's environment, and an IPC channel to it (a cluster worker's). */
  options: { env?: NodeJS.ProcessEnv; ipc?: boolean } = {},
): HeldProcess {
  const dir = tempDir();
  const marker = dir.path('holding');
  const releaseFile = dir.path('release');
  const [command, ...argv] = [...wrapper, process.execPath, '--import', HOLD, ...args];
  const child = spawn(command as string, argv, {
    cwd: REPO_ROOT,
    env: childEnvironment({
      ...options.env,
      HOLD_IMPORT: module,
      HOLD_IMPORT_MARKER: marker,
      HOLD_IMPORT_RELEASE: releaseFile,
    }),
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    dir.cleanup();
  });
  let stdout = '';
  let stderr = '';
  // Always pipes (the stdio above): typed as possibly absent only because that array is built.
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ended = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const held = waitUntil(() => {
    if (ended) throw new Error(`the process ended before the hold:\n${stderr}`);
    return existsSync(marker);
  }, 5);
  // Handled here so that a test that never awaits it is not failed by it; awaiting still throws.
  held.catch(() => undefined);
  return {
    child,
    held,
    release: () => writeFileSync(releaseFile, ''),
    closed,
    ended: () => ended,
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
