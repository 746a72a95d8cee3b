import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import {
  cliArguments,
  MISSING_FILE_SIGNER,
  REPO_ROOT,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';

/**
 * A SIGTERM or SIGINT sent while the server's modules still load, before `serve`'s lifecycle has
 * its handlers, is not lost: the executable entry holds it (as PID 1 in a container, a signal
 * without a handler is ignored). The load is held by a module hook (test/helpers/hold-import.mjs)
 * at the import of the program (src/cli/server-program), after the entry's own few lines ran; the
 * signal is sent while it is held, and the load released only then. No timing involved.
 */

const HOLD = pathToFileURL(join(REPO_ROOT, 'test', 'helpers', 'hold-import.mjs')).href;
/** The program module, built (.js) or through tsx (.ts). */
const PROGRAM = String.raw`/src/cli/server-program\.[jt]s$`;
/** How the program ran before it had an entry of its own: as the executable itself. */
const programAsEntry = () =>
  cliArguments().map((arg) => arg.replace(/timestamp-server\.([jt]s)$/, 'server-program.$1'));

/** Whether this machine lets a process be PID 1 of a new PID namespace (user namespaces). */
const canBePid1 = spawnSync('unshare', ['-Urpf', 'true']).status === 0;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once `path` exists; rejects if the process ended first. */
async function fileAppears(path: string, ended: () => boolean): Promise<void> {
  while (!existsSync(path)) {
    if (ended()) throw new Error(`the process ended before ${path} appeared`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Runs `node <script> <args>` with the program's import held, sends `signal` to node while it is
 * held, then releases it. `script`: the node arguments that run the entry (cliArguments()).
 * `pid1`: node runs as PID 1 of a new PID namespace (unshare), as in a container.
 */
async function signalWhileLoading(
  script: string[],
  args: string[],
  signal: NodeJS.Signals,
  { pid1 = false } = {},
) {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const marker = dir.path('holding');
  const release = dir.path('release');
  const node = [process.execPath, '--import', HOLD, ...script, ...args];
  // --kill-child: node goes too if unshare is killed (the cleanup).
  const [command, ...argv] = pid1 ? ['unshare', '-Urpf', '--kill-child', ...node] : node;
  const child = spawn(command as string, argv, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOME: `${REPO_ROOT}/test/fixtures-none`,
      HOLD_IMPORT: PROGRAM,
      HOLD_IMPORT_MARKER: marker,
      HOLD_IMPORT_RELEASE: release,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': the last lines may still be in the pipe when 'exit' fires.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signalCode) => resolve({ code, signal: signalCode })),
  );
  let ended = false;
  void closed.then(() => (ended = true));
  await fileAppears(marker, () => ended);
  // unshare's only child is node (it wrote the marker).
  const pid = pid1
    ? Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim())
    : (child.pid as number);
  process.kill(pid, signal);
  writeFileSync(release, '');
  const { code, signal: killedBy } = await closed;
  return { code, killedBy, stdout, stderr };
}

const SERVE = [
  ...SERVE_ON_EPHEMERAL_PORTS,
  // Were the signal lost, the start-up would fail at once (exit 1) rather than serve.
  ...MISSING_FILE_SIGNER,
];

/** The messages of serve's log lines (prod logs: one JSON object each). */
const messagesOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { message?: string }).message ?? '');

describe('a signal while the modules load', () => {
  it('serve: SIGTERM stops the start-up before it begins, exit 143', async () => {
    const run = await signalWhileLoading(cliArguments(), SERVE, 'SIGTERM');
    expect(run.code, run.stderr).toBe(143);
    const messages = messagesOf(run.stdout);
    expect(messages).toContain('received SIGTERM while starting: stopping the start-up');
    expect(messages.at(-1)).toBe('start-up stopped by SIGTERM: exiting with 143');
    expect(messages.some((message) => message.startsWith('cannot start'))).toBe(false);
  });

  it('serve: SIGINT, exit 130', async () => {
    const run = await signalWhileLoading(cliArguments(), SERVE, 'SIGINT');
    expect(run.code, run.stderr).toBe(130);
    const messages = messagesOf(run.stdout);
    expect(messages).toContain('received SIGINT while starting: stopping the start-up');
    expect(messages.at(-1)).toBe('start-up stopped by SIGINT: exiting with 130');
  });

  it('another command (version) runs, then ends with 128 + the signal number', async () => {
    const run = await signalWhileLoading(cliArguments(), ['version', '--json'], 'SIGINT');
    expect(run.code, run.stderr).toBe(130);
    expect(JSON.parse(run.stdout)).toHaveProperty('gitVersion');
  });

  it('control: the program run as the executable, without the entry, dies of it', async () => {
    const run = await signalWhileLoading(programAsEntry(), SERVE, 'SIGTERM');
    expect(run.killedBy).toBe('SIGTERM');
    expect(run.stdout).toBe('');
  });
});

describe.skipIf(!canBePid1)('a signal while the modules load, to PID 1 (unshare)', () => {
  it('serve: SIGTERM stops the start-up, exit 143', async () => {
    const run = await signalWhileLoading(cliArguments(), SERVE, 'SIGTERM', { pid1: true });
    expect(run.code, run.stderr).toBe(143);
    expect(messagesOf(run.stdout).at(-1)).toBe('start-up stopped by SIGTERM: exiting with 143');
  });

  it('control: without the entry, PID 1 ignores the signal and goes on to start', async () => {
    const run = await signalWhileLoading(programAsEntry(), SERVE, 'SIGTERM', { pid1: true });
    // Lost: the start-up ran (here it fails on the missing key; a real one would serve until SIGKILL).
    expect(run.code, run.stderr).toBe(1);
    const messages = messagesOf(run.stdout);
    expect(messages.some((message) => message.startsWith('cannot start'))).toBe(true);
    expect(messages.some((message) => message.includes('SIGTERM'))).toBe(false);
  });
});
