import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, onTestFailed } from 'vitest';
import { optionVariables } from '../../src/config/environment.js';
import { READ_BY_THE_SERVER } from './server-variables.js';
import { TEST_RUN_ENV } from './test-run-env.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_BIN = `${REPO_ROOT}bin/timestamp-server`;
/** A HOME without a config file: the server reads $HOME/timestamp-server.yaml (and the like). */
export const NO_CONFIG_HOME = `${REPO_ROOT}test/fixtures-none`;

/** Fails with the fix when the build the test drives is missing. */
export function requireBuild(bin = SERVER_BIN): void {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run \`make timestamp-server\` (make test does)`);
}

/**
 * The environment of a server or CLI a test spawns: this process's, less every variable that would
 * change what the server does (an option's, whatever the developer's shell set: LOG_LEVEL=warn
 * hides the line a test waits for), with HOME where no config file is, the test run's own settings
 * (test-run-env.ts) and then `env`, the test's. PATH, TMPDIR and the like stay.
 */
export function childEnvironment(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  for (const name of optionVariables(inherited)) delete inherited[name];
  for (const name of Object.keys(inherited)) {
    if (READ_BY_THE_SERVER.test(name)) delete inherited[name];
  }
  return { ...inherited, HOME: NO_CONFIG_HOME, ...TEST_RUN_ENV, ...env };
}

/** The children whose whole process group is killed (reapChild's `group`), one set per process. */
const GROUP_LEADERS: WeakSet<ChildProcess> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('timestamp-authority.test.group-leaders')
] ??= new WeakSet<ChildProcess>()) as WeakSet<ChildProcess>;

/** SIGKILL to `child`, or to its process group where reapChild was asked to (synchronous). */
function sigkill(child: ChildProcess): void {
  if (GROUP_LEADERS.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // The group is gone: the child alone, below.
    }
  }
  child.kill('SIGKILL');
}

/** The children reapChild watches, one set per process whatever the module copies. */
const RUNNING: Set<ChildProcess> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('timestamp-authority.test.children')
] ??= (() => {
  const running = new Set<ChildProcess>();
  // The last resort, should the process end before the afterAll below (synchronous: a signal is
  // all 'exit' allows).
  process.once('exit', () => running.forEach(sigkill));
  return running;
})()) as Set<ChildProcess>;

try {
  // Imported by a test file: the children it did not stop, once its own afterAll hooks have run
  // (after hooks run in stack order: this one, registered at import, last).
  afterAll(async () => {
    await Promise.all([...RUNNING].map(kill));
  });
} catch {
  // Imported outside vitest (bench/): nothing registers.
}

/** Whether `child` has ended (by itself or by a signal). */
export const ended = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null;

/**
 * SIGKILL to `child` (to its process group where reapChild was given `group`) unless it has ended;
 * resolves once it has.
 */
export async function kill(child: ChildProcess): Promise<void> {
  if (ended(child) || child.pid === undefined) return;
  const exited = once(child, 'exit');
  sigkill(child);
  await exited;
}

/**
 * Kills `child` (SIGKILL) if it still runs when the test that spawned it fails (a failed assertion,
 * a timeout: onTestFailed runs after the afterEach hooks), and at the latest once the test file's
 * hooks are done (the afterAll above: a file may share a server between its tests, and stop it in
 * its own afterAll). The server's own children (cluster workers, the PKCS#11 host) end with it:
 * they exit when their parent's IPC channel closes. `group`: for a child spawned `detached` (the
 * leader of a process group of its own, as chronyd under faketime), the whole group is killed:
 * such a group outlives this process otherwise.
 */
export function reapChild(child: ChildProcess, options: { group?: boolean } = {}): void {
  if (options.group) GROUP_LEADERS.add(child);
  RUNNING.add(child);
  child.once('exit', () => RUNNING.delete(child));
  try {
    onTestFailed(() => kill(child));
  } catch {
    // Not in a test (a beforeAll): the afterAll above.
  }
}

/** What a program run to its end (runToEnd) wrote and how it ended. */
export interface EndedRun {
  /** the exit code; null when a signal ended it */
  status: number | null;
  /** the signal that ended it, if one did */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` to its end, as spawnSync would, without blocking this process: a program that
 * hangs is the test's timeout, after which reapChild ends it (spawnSync would hold the test
 * worker's event loop, so that no timeout could fire).
 */
export async function runToEnd(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<EndedRun> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? childEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // 'close', not 'exit': the last output may still be in the pipes at 'exit'.
  const [status, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { status, signal, stdout, stderr };
}

/** A port that was free a moment ago (for commands that need a fixed --port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A port of 127.0.0.1 where nothing listens, and nothing can until close(): it is the local port
 * of a connection this process holds open (to a listener of its own), so a bind to it fails with
 * EADDRINUSE, while a connection to it is refused (ECONNREFUSED). A socket merely bound would not
 * do: Node sets SO_REUSEADDR, and Linux lets another socket with it listen on a port bound so.
 */
export async function closedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  const port = client.localPort;
  if (port === undefined) throw new Error('the holding connection has no local port');
  return {
    port,
    close: async () => {
      client.destroy();
      accepted.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The TCP ports `pid` listens on (Linux: its socket descriptors, looked up in its network
 * namespace's /proc tables): for a server that logs no address (--log-level warn).
 */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // ended
  }
  for (const fd of fds) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (socket) inodes.add(socket);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let lines: string[];
    try {
      lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    } catch {
      continue; // no IPv6, or ended
    }
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (state === '0A' && inode !== undefined && inodes.has(inode) && local) {
        ports.add(parseInt(local.split(':').at(-1) ?? '', 16));
      }
    }
  }
  return [...ports];
}

/** A started server (startProcess). */
export interface StartedProcess {
  child: ChildProcess;
  /** The URL the server logged it serves timestamps on. */
  url: string;
  output: () => string;
  stop: () => Promise<number | null>;
}

// eslint-disable-next-line no-control-regex -- the escape sequences of a coloured dev log
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Starts a `timestamp-server serve` command (give it `--port 0`: the URL is read from its log,
 * either log type) in childEnvironment(env), and resolves once it serves. No deadline of its own:
 * it fails when the process exits first (with its output), and a hang is the test's timeout, after
 * which reapChild ends the process.
 */
export async function startProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<StartedProcess> {
  const child = spawn(command, args, {
    env: childEnvironment(options.env),
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapChild(child);
  let output = '';
  // 'close', not 'exit': the last lines (why it stopped) may still be in the pipe at 'exit'.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /serving timestamps on (https?:\/\/[^\s"]+)/.exec(output.replace(ANSI, ''));
      if (found?.[1]) resolve(found[1]);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('error', (error) => reject(new Error(`${command}: ${error.message}`)));
    void exited.then((code) => reject(new Error(`${command} exited early (${code}):\n${output}`)));
  }).catch(async (error: unknown) => {
    await kill(child);
    throw error;
  });
  return {
    child,
    url,
    output: () => output,
    stop: async () => {
      if (!ended(child)) child.kill('SIGTERM');
      return exited;
    },
  };
}
