import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.js';
import {
  cgroupCpuLimit,
  checkWorkerCount,
  resolveWorkerCount,
} from '../../../src/config/worker-count.js';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A filesystem root holding `files` (path under the root -> content), as /proc and /sys show them. */
function fsRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tsa-cgroup-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** --workers auto on a node with `cores` CPUs, under the cgroup files given. */
const auto = (cores: number, files: Record<string, string>) =>
  resolveWorkerCount('auto', { root: fsRoot(files), parallelism: () => cores });

describe('--workers auto', () => {
  it("cgroup v2: the CPU limit rounded up, not the node's 64 cores", () => {
    const counted = auto(64, {
      'proc/self/cgroup': '0::/kubepods.slice/pod1/ctr\n',
      'sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max': '150000 100000\n',
    });
    expect(counted.count).toBe(2);
    expect(counted.derivation).toContain('cgroup CPU limit of 1.5 CPUs');
    expect(counted.derivation).toContain('64 available CPUs');
  });

  it('cgroup v2: the lowest limit of the cgroup and its ancestors; below one CPU, one worker', () => {
    expect(
      auto(64, {
        'proc/self/cgroup': '0::/kubepods.slice/pod1/ctr\n',
        'sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max': 'max 100000\n',
        'sys/fs/cgroup/kubepods.slice/pod1/cpu.max': '50000 100000\n',
        'sys/fs/cgroup/kubepods.slice/cpu.max': '400000 100000\n',
      }).count,
    ).toBe(1);
  });

  it('cgroup v2 in a container: its own namespace (0::/), or a host path it cannot see', () => {
    const own = { 'sys/fs/cgroup/cpu.max': '300000 100000\n' };
    expect(auto(64, { 'proc/self/cgroup': '0::/\n', ...own }).count).toBe(3);
    expect(
      auto(64, { 'proc/self/cgroup': '0::/system.slice/docker-0123.scope\n', ...own }).count,
    ).toBe(3);
  });

  it('cgroup v2 without a limit (max): one per available CPU, said so', () => {
    const counted = auto(6, {
      'proc/self/cgroup': '0::/user.slice\n',
      'sys/fs/cgroup/user.slice/cpu.max': 'max 100000\n',
    });
    expect(counted).toEqual({
      count: 6,
      derivation: '--workers auto: 6 workers, one per available CPU (no cgroup CPU limit found)',
    });
  });

  it('never more than the CPUs available (a limit above the affinity mask)', () => {
    expect(
      auto(2, { 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '800000 100000\n' }).count,
    ).toBe(2);
  });

  it('cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us, in the cpu hierarchy', () => {
    const hierarchy = [
      '12:memory:/kubepods/burstable/pod1/ctr',
      '4:cpu,cpuacct:/kubepods/burstable/pod1/ctr',
      '0::/',
      '',
    ].join('\n');
    // In a container: the hierarchy's mount is the container's own cgroup.
    expect(
      auto(32, {
        'proc/self/cgroup': hierarchy,
        'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '250000\n',
        'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      }).count,
    ).toBe(3);
    // On the host: the path under the mount, and -1 (no limit) above it.
    expect(
      auto(32, {
        'proc/self/cgroup': '3:cpu:/tsa.slice\n',
        'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
        'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
        'sys/fs/cgroup/cpu/tsa.slice/cpu.cfs_quota_us': '100000\n',
        'sys/fs/cgroup/cpu/tsa.slice/cpu.cfs_period_us': '100000\n',
      }).count,
    ).toBe(1);
    expect(
      auto(32, {
        'proc/self/cgroup': '3:cpu:/\n',
        'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
        'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
      }).count,
    ).toBe(32);
  });

  it('no cgroup files at all (not Linux, or /sys not mounted): one per available CPU', () => {
    expect(cgroupCpuLimit(fsRoot({}))).toBeUndefined();
    expect(auto(4, {}).count).toBe(4);
  });

  it('a number is taken as it is; anything else is refused', () => {
    expect(resolveWorkerCount('3')).toEqual({ count: 3 });
    expect(resolveWorkerCount(' 2 ').count).toBe(2);
    expect(() => resolveWorkerCount('0')).toThrow(ConfigError);
    expect(() => resolveWorkerCount('many')).toThrow('invalid value for --workers: "many"');
    // The configuration's check reads nothing: auto stays auto until start-up resolves it.
    expect(checkWorkerCount(' AUTO ')).toBe('auto');
    expect(() => checkWorkerCount('0')).toThrow('invalid value for --workers: "0"');
  });

  it('a number is at most 1024: 5000 is a typo, not a plan', () => {
    expect(checkWorkerCount('1024')).toBe(1024);
    expect(() => checkWorkerCount('1025')).toThrow(
      'invalid value for --workers: "1025" (a number from 1 to 1024, or auto)',
    );
    expect(() => resolveWorkerCount('5000')).toThrow(ConfigError);
  });
});
