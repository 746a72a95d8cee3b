import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/process.js';

/** USER_HZ: 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BenchProcess {
  url: string;
  child: ChildProcess;
  /** Resident set size in bytes, from /proc. */
  rss(): number;
  /** CPU time (user + system) the process has used, in seconds, from /proc. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (child.exitCode !== null) throw new Error(`process exited:\n${output()}`);
    try {
      if ((await fetch(`${url}/ping`)).ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`not ready: ${url}\n${output()}`);
}

/** CPU time (user + system) of a process, in seconds, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number): number {
  try {
    // Fields 14 and 15 (after the parenthesised command name) are utime, stime.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0; // exited meanwhile
  }
}

/** CPU seconds of `pid` and of its children (cluster workers), from /proc. */
function groupCpuSeconds(pid: number): number {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
  } catch {
    // no children file (older kernels): the process alone
  }
  return cpuSecondsOf(pid) + children.reduce((sum, child) => sum + cpuSecondsOf(child), 0);
}

/**
 * Cores for the servers and for the load generator (this process), so that neither takes CPU from
 * the other and the ratio compares the servers alone: the last core this process may use
 * generates load, the others serve. Linux with taskset and at least 2 cores; otherwise null, and
 * nothing is pinned.
 */
export interface CpuPlan {
  /** taskset's lists, e.g. `0,1,2` and `3`. */
  servers: string;
  load: string;
  /** This process's affinity before, to restore. */
  before: string;
}

export function cpuPlan(): CpuPlan | null {
  if (process.platform !== 'linux') return null;
  let before: string;
  try {
    // "pid 123's current affinity list: 0-3,5"
    const output = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
    before = output.slice(output.lastIndexOf(':') + 1).trim();
  } catch {
    return null; // no taskset
  }
  const cpus = before.split(',').flatMap((range) => {
    const [first, last = first] = range.split('-').map(Number) as [number, number?];
    return Array.from({ length: (last as number) - first + 1 }, (_, i) => first + i);
  });
  if (cpus.length < 2) return null;
  return { servers: cpus.slice(0, -1).join(','), load: String(cpus.at(-1)), before };
}

/** Pins this process, every thread of it, to `cpus` (taskset's list). */
export function pinSelf(cpus: string): void {
  execFileSync('taskset', ['-a', '-cp', cpus, String(process.pid)], { stdio: 'ignore' });
}

/**
 * Starts `node <args>` with --port appended, logs discarded, and waits for /ping; on `cpus`
 * (taskset's list) when given, which its threads and cluster workers inherit.
 */
export async function startNode(args: string[], cpus?: string): Promise<BenchProcess> {
  const port = await freePort();
  const command = [process.execPath, ...args, '--port', String(port)];
  const child = spawn(
    cpus ? 'taskset' : process.execPath,
    cpus ? ['-c', cpus, ...command] : command.slice(1),
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(url, child, () => stderr);
  } catch (error) {
    // Not ready in time: it may still run (and its cluster workers with it).
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    throw error;
  }
  return {
    url,
    child,
    rss: () =>
      Number(
        /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0,
      ) * 1024,
    // The process's own CPU and that of its waited-for children (cluster workers once they exit
    // are not counted: read it while they run, from every process of the group).
    cpuSeconds: () => groupCpuSeconds(child.pid as number),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The checkouts whose dist/ was found current (checked once per process). */
const currentBuilds = new Set<string>();

/**
 * Throws, saying to run `npm run build`, unless each .ts file under the src/ of the checkout at
 * `root` has its .js under dist/src/, at least as new: the servers run from dist/ while the floors
 * (and the in-process parts) run src/ through tsx, so a stale dist/ would compare an old server
 * with the current floors.
 * A check of modification times, not a build: a few hundred stat calls, where `npm run build`
 * takes ~20 s per bench run and would write into another checkout (--against).
 */
export class StaleBuildError extends Error {}

export function requireCurrentBuild(root = REPO_ROOT): void {
  const dir = resolve(root);
  if (currentBuilds.has(dir)) return;
  const fix = `run \`npm run build\`${dir === resolve(REPO_ROOT) ? '' : ` in ${dir}`}`;
  if (!existsSync(join(dir, 'src')))
    throw new StaleBuildError(`bench: ${dir} has no src/ to check its dist/ against`);
  if (!existsSync(join(dir, 'dist', 'src')))
    throw new StaleBuildError(`bench: ${dir} is not built (no dist/src/): ${fix}`);
  const stale: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = join(dir, 'dist', relative(dir, path).replace(/\.ts$/, '.js'));
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs)
          stale.push(relative(dir, path));
      }
    }
  };
  walk(join(dir, 'src'));
  if (stale.length > 0)
    throw new StaleBuildError(
      `bench: ${dir}'s dist/ is older than its src/ (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''} newer or not built): ${fix}`,
    );
  currentBuilds.add(dir);
}

/**
 * Our server from dist/ (run `npm run build` first), or the `entry` of another checkout, with prod
 * logs to a discarded stdout. Without NTP monitoring: the bench machine may have no NTP server to
 * reach (the clock would stay `unverified`), and the skipped clock gate is a small advantage to our server (docs/performance.md).
 */
export const startTimestampServer = (
  flags: string[] = [],
  cpus?: string,
  entry = 'dist/src/cli/timestamp-server.js',
): Promise<BenchProcess> => {
  // entry: <checkout>/dist/src/cli/timestamp-server.js
  requireCurrentBuild(resolve(REPO_ROOT, entry, '..', '..', '..', '..'));
  return startNode(
    [entry, 'serve', '--log-type', 'prod', '--disable-ntp-monitoring', ...flags],
    cpus,
  );
};

/** Which floor server (bench/floor-server.ts) to start; see its comment. */
export type FloorKind = 'floor' | 'turns' | 'token';

/** The floor server (bench/floor-server.ts): the floor, the turn floor or the token floor. */
export const startFloorServer = (
  workers = 1,
  cpus?: string,
  kind: FloorKind = 'floor',
): Promise<BenchProcess> =>
  startNode(
    [
      '--import',
      'tsx',
      'bench/floor-server.ts',
      '--workers',
      String(workers),
      ...(kind === 'floor' ? [] : [`--${kind}`]),
    ],
    cpus,
  );
