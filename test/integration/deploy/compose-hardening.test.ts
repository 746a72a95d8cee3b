import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * docker-compose.yml's long-running services are hardened as the Kubernetes base's container:
 * no capabilities, no privilege gain, a read-only root filesystem with a scratch /tmp. Read-only
 * holds only while everything they write is on a volume: chronyd's files are checked here.
 */
interface Service {
  restart?: string;
  cap_drop?: string[];
  security_opt?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  volumes?: string[];
  entrypoint?: string[];
}
const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};
const longRunning = Object.entries(compose.services).filter(
  ([, service]) => service.restart === 'always',
);

describe('docker-compose.yml hardening', () => {
  it('runs the load test without root or capabilities', () => {
    const loadtest = compose.services['loadtest'] as Service;
    expect(loadtest.cap_drop).toEqual(['ALL']);
    expect(loadtest.security_opt).toContain('no-new-privileges:true');
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(
      /FROM \S+ AS loadtest\n(?:(?!FROM ).*\n)*USER node\n/,
    );
  });

  it('covers the servers and the chronyd sidecar', () => {
    expect(longRunning.map(([name]) => name).sort()).toEqual([
      'chrony',
      'timestamp-server',
      'timestamp-server-nts',
    ]);
  });

  it('matches the Kubernetes base: no capabilities, no new privileges, read-only root, /tmp', () => {
    const deployment = parse(
      readFileSync(join(REPO_ROOT, 'deploy/kubernetes/base/deployment.yaml'), 'utf8'),
    ) as {
      spec: {
        template: {
          spec: {
            containers: {
              securityContext: {
                allowPrivilegeEscalation: boolean;
                readOnlyRootFilesystem: boolean;
                capabilities: { drop: string[] };
              };
              volumeMounts: { name: string; mountPath: string }[];
            }[];
          };
        };
      };
    };
    const [container] = deployment.spec.template.spec.containers;
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.volumeMounts.map((mount) => mount.mountPath)).toContain('/tmp');
    for (const [name, service] of longRunning) {
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.security_opt, name).toContain('no-new-privileges:true');
      expect(service.read_only, name).toBe(true);
      expect(service.tmpfs, name).toContain('/tmp');
    }
  });

  it('chronyd writes only to its volume and /tmp (drift, NTS keys, socket; pid), so read-only holds', () => {
    const chrony = compose.services['chrony'] as Service;
    const confMount = chrony.volumes?.find((entry) => entry.endsWith('/chrony.conf:ro')) ?? '';
    const conf = readFileSync(join(REPO_ROOT, confMount.split(':')[0] ?? ''), 'utf8');
    const writable = [
      ...(chrony.volumes ?? [])
        .filter((entry) => !entry.endsWith(':ro'))
        .map((entry) => entry.split(':')[1] ?? ''),
      ...(chrony.tmpfs ?? []),
    ];
    const paths = [
      ...conf.matchAll(/^(pidfile|driftfile|ntsdumpdir|dumpdir|logdir|bindcmdaddress)\s+(\S+)/gm),
    ].map((match) => [match[1], match[2] ?? ''] as const);
    // Without these, chronyd writes its defaults under /run/chrony and /var/lib/chrony.
    expect(paths.map(([directive]) => directive).sort()).toEqual(
      expect.arrayContaining(['bindcmdaddress', 'driftfile', 'ntsdumpdir', 'pidfile']),
    );
    for (const [directive, path] of paths)
      expect(
        writable.some((mount) => path === mount || path.startsWith(`${mount}/`)),
        `${directive} ${path}`,
      ).toBe(true);
    // chronyd is PID 1 in its container: a pidfile that outlived a SIGKILL on the volume would
    // name a live process (chronyd itself) and stop every restart. A tmpfs is emptied at each.
    const pidfile = paths.find(([directive]) => directive === 'pidfile')?.[1] ?? '';
    expect(chrony.tmpfs?.some((mount) => pidfile.startsWith(`${mount}/`))).toBe(true);
    // It runs as the image's user: `-u node` then drops no root, which would need capabilities.
    expect(chrony.entrypoint).toEqual(expect.arrayContaining(['-u', 'node']));
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(
      /FROM \S+ AS deploy[\s\S]*\nUSER node\n/,
    );
  });
});
