import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnHeldAtImport } from '../../helpers/held-import.js';
import { childEnvironment } from '../../helpers/process.js';
import {
  cliArguments,
  MISSING_FILE_SIGNER,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';

/**
 * A SIGTERM or SIGINT sent while the server's modules still load, before `serve`'s lifecycle has
 * its handlers, is not lost: the executable entry holds it (as PID 1 in a container, a signal
 * without a handler is ignored). The load is held by a module hook (test/helpers/hold-import.mjs)
 * at the import of the program (src/cli/server-program), after the entry's own few lines ran; the
 * signal is sent while it is held, and the load released only then. No timing involved.
 */

/** The program module, built (.js) or through tsx (.ts). */
const PROGRAM = String.raw`/src/cli/server-program\.[jt]s$`;
/** How the program ran before it had an entry of its own: as the executable itself. */
const programAsEntry = () =>
  cliArguments().map((arg) => arg.replace(/timestamp-server\.([jt]s)$/, 'server-program.$1'));

/**
 * The unshare command that runs a process as PID 1 of a new PID namespace on this machine: in a
 * new user namespace (unprivileged), else, as root, without one (CAP_SYS_ADMIN). Only there does
 * the kernel drop a signal its target has no handler for, the case these tests are about; nothing
 * else gives a process that behaviour, so a machine that can do neither fails them, saying why,
 * rather than skip them.
 */
function pid1Command(): string[] {
  const failures: string[] = [];
  for (const command of [
    ['unshare', '-Urpf'],
    ['unshare', '-pf'],
  ]) {
    const tried = spawnSync(command[0] as string, [...command.slice(1), 'true'], {
      env: childEnvironment(),
      encoding: 'utf8',
    });
    if (tried.status === 0) return command;
    failures.push(`\`${command.join(' ')} true\`: ${tried.error?.message ?? tried.stderr.trim()}`);
  }
  throw new Error(
    `this machine cannot run a process as PID 1 of a new PID namespace (${failures.join('; ')}): ` +
      'allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, ' +
      'kernel.unprivileged_userns_clone=1 where it exists, ' +
      "Ubuntu's kernel.apparmor_restrict_unprivileged_userns=0), or run the tests as root " +
      'with CAP_SYS_ADMIN (not in an unprivileged container)',
  );
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
  // --kill-child: node goes too if unshare is killed (the cleanup).
  const run = spawnHeldAtImport(
    PROGRAM,
    [...script, ...args],
    pid1 ? [...pid1Command(), '--kill-child'] : [],
  );
  await run.held;
  // unshare's only child is node (it wrote the marker).
  const pid = pid1
    ? Number(readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').trim())
    : (run.child.pid as number);
  process.kill(pid, signal);
  run.release();
  const { code, signal: killedBy } = await run.closed;
  return { code, killedBy, stdout: run.stdout(), stderr: run.stderr() };
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

describe('a signal while the modules load, to PID 1 (unshare)', () => {
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
