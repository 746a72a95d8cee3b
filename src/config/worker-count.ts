import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error.js';

/** A CPU limit of this process's cgroup: `cpus` CPUs' worth of time per period. */
export interface CpuLimit {
  cpus: number;
  /** The file it was read from, e.g. /sys/fs/cgroup/cpu.max. */
  file: string;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** `/a/b/c`, `/a/b`, `/a`, `/`: a cgroup and its ancestors, whose limits all apply. */
const selfAndAncestors = (path: string): string[] => {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => `/${parts.slice(0, parts.length - i).join('/')}`).concat('/');
};

/** cgroup v2: `cpu.max` holds `<quota> <period>`, or `max <period>` for no limit. */
function cgroupV2Limit(root: string, path: string): CpuLimit | undefined {
  let lowest: CpuLimit | undefined;
  for (const dir of selfAndAncestors(path)) {
    const file = join(root, 'sys/fs/cgroup', dir, 'cpu.max');
    const [quota, period] = (readText(file) ?? '').trim().split(/\s+/);
    const cpus = Number(quota) / Number(period);
    if (quota === 'max' || !(cpus > 0) || !Number.isFinite(cpus)) continue;
    if (!lowest || cpus < lowest.cpus) lowest = { cpus, file };
  }
  return lowest;
}

/**
 * cgroup v1: `cpu.cfs_quota_us` (-1 for no limit) over `cpu.cfs_period_us`, in the `cpu`
 * controller's hierarchy. In a container the hierarchy's mount is the container's own cgroup, and
 * the path /proc/self/cgroup names (the host's) is not under it: the mount itself is then read.
 */
function cgroupV1Limit(root: string, path: string): CpuLimit | undefined {
  let lowest: CpuLimit | undefined;
  for (const mount of ['cpu,cpuacct', 'cpu', 'cpuacct,cpu']) {
    for (const dir of selfAndAncestors(path)) {
      const base = join(root, 'sys/fs/cgroup', mount, dir);
      const file = join(base, 'cpu.cfs_quota_us');
      const quota = Number(readText(file));
      const period = Number(readText(join(base, 'cpu.cfs_period_us')));
      const cpus = quota / period;
      if (!(quota > 0) || !(cpus > 0) || !Number.isFinite(cpus)) continue;
      if (!lowest || cpus < lowest.cpus) lowest = { cpus, file };
    }
    if (lowest) return lowest;
  }
  return undefined;
}

/**
 * The CPU limit (quota over period) of this process's cgroup, v2 or v1, the lowest of its own and
 * its ancestors'; undefined without one (or where there are no cgroups). `root` is the filesystem
 * root the files are read under (tests give a folder of fixtures).
 */
export function cgroupCpuLimit(root = '/'): CpuLimit | undefined {
  const lines = (readText(join(root, 'proc/self/cgroup')) ?? '').split('\n');
  for (const line of lines) {
    // hierarchy-ID:controllers:path; v2's single hierarchy is `0::<path>`.
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = '', path = '/'] = match;
    if (id === '0' && controllers === '') {
      const limit = cgroupV2Limit(root, path);
      if (limit) return limit;
    } else if (controllers.split(',').includes('cpu')) {
      const limit = cgroupV1Limit(root, path);
      if (limit) return limit;
    }
  }
  return undefined;
}

/**
 * Most --workers: a process each (tens of MiB, a signer and its connections each), forked at
 * start; more than the largest machines' CPUs is a typo, not a plan (5000 was accepted).
 */
export const MAX_WORKERS = 1024;

export interface WorkerCount {
  count: number;
  /** For `auto`: how the count was found, for the start-up log. */
  derivation?: string;
}

export interface AutoWorkerSources {
  /** The filesystem root cgroup files are read under. */
  root?: string;
  /** os.availableParallelism (tests give a fixed count). */
  parallelism?: () => number;
}

/**
 * --workers: a positive number, or `auto`: one process per CPU the OS lets this process use,
 * capped by its cgroup's CPU limit rounded up (a container's or pod's `limits.cpu`), at least 1.
 * os.availableParallelism() alone reads the CPU affinity, and on some Node versions not the cgroup
 * quota: on a large node a container limited to 2 CPUs would fork a worker per node core.
 */
export function resolveWorkerCount(value: string, sources: AutoWorkerSources = {}): WorkerCount {
  const count = checkWorkerCount(value);
  if (count !== 'auto') return { count };
  const cores = (sources.parallelism ?? availableParallelism)();
  const limit = cgroupCpuLimit(sources.root);
  if (!limit) {
    return {
      count: Math.max(1, cores),
      derivation: `--workers auto: ${Math.max(1, cores)} workers, one per available CPU (no cgroup CPU limit found)`,
    };
  }
  const capped = Math.max(1, Math.min(cores, Math.ceil(limit.cpus)));
  return {
    count: capped,
    derivation: `--workers auto: ${capped} workers, from the cgroup CPU limit of ${limit.cpus} CPUs (${limit.file}) and ${cores} available CPUs`,
  };
}

/**
 * --workers checked without reading the machine (the configuration's rules): a positive number,
 * or `auto`, which only resolveWorkerCount turns into a count, once, at start-up.
 */
export function checkWorkerCount(value: string): number | 'auto' {
  if (value.trim().toLowerCase() === 'auto') return 'auto';
  const count = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_WORKERS) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --workers: ${JSON.stringify(value)} (a number from 1 to ${MAX_WORKERS}, or auto)`,
    );
  }
  return count;
}
