import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseDuration } from '../../../src/config/duration.js';
import { loadServeConfig } from '../../../src/config/load.js';
import { loadKubernetesModels, unknownFields } from '../../helpers/kube-fields.js';
import { kubectlKustomize, renderKustomization, type KubeObject } from '../../helpers/kustomize.js';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment, reapChild } from '../../helpers/process.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

const KUBERNETES = join(REPO_ROOT, 'deploy', 'kubernetes');
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const byKey = (objects: KubeObject[]) =>
  [...objects].sort((a, b) =>
    `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`),
  );
const find = <T>(objects: KubeObject[], kind: string) =>
  objects.find((object) => object.kind === kind) as unknown as T;

/** Types, formats and required fields (kubernetes-models), and no field the API does not know. */
function validate(object: KubeObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
  const unknown = unknownFields(object);
  if (unknown.length > 0) throw new Error(`unknown fields: ${unknown.join(', ')}`);
}

interface DeploymentShape {
  spec: {
    replicas?: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        serviceAccountName: string;
        securityContext: { runAsNonRoot: boolean };
        containers: {
          image: string;
          args: string[];
          env?: { name: string; value: string }[];
          ports: { name: string; containerPort: number }[];
          readinessProbe: { httpGet: { path: string } };
          livenessProbe: { httpGet: { path: string } };
          startupProbe: { httpGet: { path: string } };
          lifecycle: { preStop: { exec: { command: string[] } } };
          resources: { requests: { cpu: string; memory: string } };
          securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
          volumeMounts: { name: string; mountPath: string }[];
        }[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

const work = tempDir();
afterAll(() => work.cleanup());
// Reading kubernetes-models' types takes the TypeScript checker a few seconds: no deadline.
beforeAll(() => void loadKubernetesModels(), 0);

for (const overlay of ['memory', 'aws-kms']) {
  describe(`deploy/kubernetes overlay ${overlay}`, () => {
    const dir = join(KUBERNETES, 'overlays', overlay);
    const objects = renderKustomization(dir);

    it('renders the same objects as kubectl kustomize (where kubectl is installed)', () => {
      const kubectl = kubectlKustomize(dir);
      if (kubectl) expect(byKey(objects)).toEqual(byKey(kubectl));
      expect(objects.map((object) => object.kind).sort()).toEqual([
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'Namespace',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]);
    });

    it('every object is valid against the Kubernetes schemas', () => {
      for (const object of objects)
        expect(() => validate(object), `${object.kind} ${object.metadata.name}`).not.toThrow();
    });

    it('runs non-root and read-only, with probes, resources and a drain longer than the graceful timeout', () => {
      const deployment = find<DeploymentShape>(objects, 'Deployment');
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container?.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(container?.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container?.livenessProbe.httpGet.path).toBe('/livez');
      expect(container?.startupProbe.httpGet.path).toBe('/livez');
      expect(container?.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });

      const configMap = find<{ data: Record<string, string> }>(objects, 'ConfigMap');
      const configText = configMap.data['timestamp-server.yaml'] ?? '';
      const config = parse(configText) as Record<string, string | number>;
      const preStopSeconds = Number(container?.lifecycle.preStop.exec.command[1]);
      const gracefulSeconds = (parseDuration(String(config['graceful-timeout'])) ?? 0) / 1000;
      expect(gracefulSeconds).toBe(15);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + gracefulSeconds);

      // The container listens where the ports and probes point, and reads the mounted config file.
      expect(container?.ports).toEqual([
        { name: 'http', containerPort: config['port'] },
        { name: 'metrics', containerPort: config['metrics-port'] },
      ]);
      const mount = container?.volumeMounts.find((volume) => volume.name === 'config');
      expect(container?.args).toContain(`--config=${mount?.mountPath}/timestamp-server.yaml`);
      expect(configMap.data['ntpsync.yaml']).toContain('servers:');
    });

    it("keeps the base's config file but the signer, NTP monitoring included", () => {
      const base = renderKustomization(join(KUBERNETES, 'base'));
      const configOf = (rendered: KubeObject[]) =>
        parse(
          find<{ data: Record<string, string> }>(rendered, 'ConfigMap').data[
            'timestamp-server.yaml'
          ] ?? '',
        ) as Record<string, unknown>;
      const config = configOf(objects);
      for (const [key, value] of Object.entries(configOf(base)))
        if (key !== 'timestamp-signer') expect(config[key], key).toEqual(value);

      // The monitor file is where the config points, in the mounted ConfigMap, in the Go format.
      const [container] = find<DeploymentShape>(objects, 'Deployment').spec.template.spec
        .containers;
      const mount = container?.volumeMounts.find((volume) => volume.name === 'config');
      expect(config['ntp-monitoring']).toBe(`${mount?.mountPath}/ntpsync.yaml`);
      expect(container?.args).toContain(`--config=${mount?.mountPath}/timestamp-server.yaml`);
      const ntp = parse(
        find<{ data: Record<string, string> }>(objects, 'ConfigMap').data['ntpsync.yaml'] ?? '',
      ) as { servers: string[] };
      expect(ntp.servers.length).toBeGreaterThanOrEqual(3);
      const { config: resolved } = loadServeConfig({
        flags: {},
        env: {},
        configPath: work.write(`${overlay}.yaml`, stringify(config)),
      });
      expect(resolved).toMatchObject({ ntpMonitoring: config['ntp-monitoring'] });
    });

    it('mounts no Kubernetes API token: the server never calls the API', () => {
      const pod = find<{ spec: { template: { spec: Record<string, unknown> } } }>(
        objects,
        'Deployment',
      ).spec.template.spec;
      expect(pod['automountServiceAccountToken']).toBe(false);
      expect(
        find<Record<string, unknown>>(objects, 'ServiceAccount')['automountServiceAccountToken'],
      ).toBe(false);
    });

    it('sizes the memory limit for its processes; --workers auto only under a CPU limit', () => {
      const config = parse(
        find<{ data: Record<string, string> }>(objects, 'ConfigMap').data[
          'timestamp-server.yaml'
        ] ?? '',
      ) as Record<string, unknown>;
      const container = find<{
        spec: {
          template: {
            spec: { containers: { resources: { limits: { cpu?: string; memory: string } } }[] };
          };
        };
      }>(objects, 'Deployment').spec.template.spec.containers[0];
      const limits = container?.resources.limits;
      const workers = String(config['workers'] ?? '1');
      // auto without a CPU limit counts the node's cores: 64 processes in a 256 MiB container.
      if (workers === 'auto') expect(limits?.cpu, 'a CPU limit for --workers auto').toBeDefined();
      const cpus = limits?.cpu?.endsWith('m')
        ? Number(limits.cpu.slice(0, -1)) / 1000
        : Number(limits?.cpu);
      const count = workers === 'auto' ? Math.ceil(cpus) : Number(workers);
      // About 50 MiB per process when idle; a cluster has its primary besides its workers.
      const processes = count > 1 ? count + 1 : 1;
      expect(limits?.memory).toMatch(/^\d+Mi$/);
      expect(Number(limits?.memory.slice(0, -2))).toBeGreaterThanOrEqual(processes * 50 + 100);
    });

    it('runs a versioned image, never :latest', () => {
      for (const container of find<DeploymentShape>(objects, 'Deployment').spec.template.spec
        .containers)
        expect(container.image).toMatch(/^[^:]+:v\d+\.\d+\.\d+$/);
    });

    it('has a Service, a CPU autoscaler and a disruption budget for the pods', () => {
      const deployment = find<DeploymentShape>(objects, 'Deployment');
      const labels = deployment.spec.template.metadata.labels;
      const service = find<{ spec: { selector: Record<string, string> } }>(objects, 'Service');
      const pdb = find<{ spec: { selector: { matchLabels: Record<string, string> } } }>(
        objects,
        'PodDisruptionBudget',
      );
      const hpa = find<{
        spec: {
          minReplicas: number;
          maxReplicas: number;
          metrics: { resource: { name: string } }[];
        };
      }>(objects, 'HorizontalPodAutoscaler');
      expect(labels).toMatchObject(service.spec.selector);
      expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
      expect(hpa.spec.metrics[0]?.resource.name).toBe('cpu');
      // A fixed count only where the autoscaler cannot change it: `kubectl apply` would put an
      // autoscaled Deployment back to its `replicas`, whatever the load.
      if (deployment.spec.replicas !== undefined)
        expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([
          deployment.spec.replicas,
          deployment.spec.replicas,
        ]);
    });
  });
}

describe('overlay specifics', () => {
  it('memory: one replica, and its config file starts the server as configured', () => {
    const objects = renderKustomization(join(KUBERNETES, 'overlays', 'memory'));
    expect(find<DeploymentShape>(objects, 'Deployment').spec.replicas).toBe(1);
    const configText =
      find<{ data: Record<string, string> }>(objects, 'ConfigMap').data['timestamp-server.yaml'] ??
      '';
    const { config } = loadServeConfig({
      flags: {},
      env: {},
      configPath: work.write('timestamp-server.yaml', configText),
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      logType: 'prod',
      timestampSigner: 'memory',
      gracefulTimeout: 15_000,
    });
  });

  it('a memory-signer overlay runs one pod at a time, even during a rollout (Recreate)', () => {
    // Each pod makes its own key and chain: a rolling update would serve two chains at once.
    for (const overlay of ['memory', 'chrony-nts', 'aws-kms']) {
      const objects = renderKustomization(join(KUBERNETES, 'overlays', overlay));
      const deployment = find<DeploymentShape & { spec: { strategy?: { type: string } } }>(
        objects,
        'Deployment',
      );
      const configText =
        find<{ metadata: { name: string }; data: Record<string, string> }>(
          objects.filter((object) => object.metadata.name === 'timestamp-server-config'),
          'ConfigMap',
        ).data['timestamp-server.yaml'] ?? '';
      const signer = (parse(configText) as Record<string, string>)['timestamp-signer'];
      if (signer === 'memory') {
        expect(deployment.spec.replicas, overlay).toBe(1);
        expect(deployment.spec.strategy?.type, overlay).toBe('Recreate');
      } else {
        expect(deployment.spec.strategy?.type ?? 'RollingUpdate', overlay).toBe('RollingUpdate');
      }
    }
  });

  it('base: the autoscaler owns the replica count, three to ten', () => {
    const objects = renderKustomization(join(KUBERNETES, 'base'));
    expect(find<DeploymentShape>(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(
      find<{ spec: { minReplicas: number; maxReplicas: number } }>(
        objects,
        'HorizontalPodAutoscaler',
      ).spec,
    ).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
  });

  it('aws-kms: IRSA role on the service account, KMS signer, chain mounted, no credentials', () => {
    const objects = renderKustomization(join(KUBERNETES, 'overlays', 'aws-kms'));
    const serviceAccount = find<{ metadata: { annotations: Record<string, string> } }>(
      objects,
      'ServiceAccount',
    );
    expect(serviceAccount.metadata.annotations['eks.amazonaws.com/role-arn']).toMatch(
      /^arn:aws:iam::\d{12}:role\//,
    );
    const deployment = find<DeploymentShape>(objects, 'Deployment');
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('timestamp-server');
    expect(pod.containers[0]?.image).toBe('ghcr.io/example/timestamp-server:v0.1.0');
    expect(pod.containers[0]?.env?.map((variable) => variable.name)).not.toContain(
      'AWS_SECRET_ACCESS_KEY',
    );
    const config = parse(
      find<{ data: Record<string, string> }>(objects, 'ConfigMap').data['timestamp-server.yaml'] ??
        '',
    ) as Record<string, string>;
    expect(config).toMatchObject({
      'timestamp-signer': 'kms',
      'kms-key-resource': 'awskms:///alias/timestamp-authority',
    });
    const chainMount = pod.containers[0]?.volumeMounts.find((mount) => mount.name === 'chain');
    expect(config['certificate-chain-path']).toBe(`${chainMount?.mountPath}/chain.pem`);
    expect(pod.volumes.find((volume) => volume.name === 'chain')?.configMap?.name).toBe(
      'timestamp-server-chain',
    );
    expect(pod.containers[0]?.volumeMounts.map((mount) => mount.name).sort()).toEqual([
      'chain',
      'config',
      'tmp',
    ]);
  });

  it("base: the image's tag is the package version", () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const [container] = find<DeploymentShape>(
      renderKustomization(join(KUBERNETES, 'base')),
      'Deployment',
    ).spec.template.spec.containers;
    expect(container?.image).toBe(`timestamp-server:v${version}`);
  });

  it('no manifest names a :latest image', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    for (const file of files(KUBERNETES)) {
      const yaml = readFileSync(file, 'utf8').replace(/^\s*#.*$/gm, '');
      expect(yaml, file).not.toMatch(/:latest\b|newTag:\s*latest/);
    }
  });

  it('aws-kms: the IAM role it asks for allows every KMS call the AWS signer makes', () => {
    const calls = [
      ...readFileSync(join(REPO_ROOT, 'src', 'signers', 'kms', 'aws.ts'), 'utf8').matchAll(
        /new (\w+)Command\(/g,
      ),
    ].map((match) => `kms:${match[1]}`);
    expect(calls).toEqual(expect.arrayContaining(['kms:DescribeKey', 'kms:GetPublicKey']));
    const comment = readFileSync(
      join(KUBERNETES, 'overlays', 'aws-kms', 'kustomization.yaml'),
      'utf8',
    )
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .join(' ');
    const listed = [...comment.matchAll(/kms:\w+/g)].map((match) => match[0]);
    expect([...new Set(listed)].sort()).toEqual([...new Set(calls)].sort());
  });

  it('the schema validation refuses a field the API does not know', () => {
    const [deployment] = renderKustomization(join(KUBERNETES, 'base')).filter(
      (object) => object.kind === 'Deployment',
    );
    expect(() => validate(deployment as KubeObject)).not.toThrow();
    const typo = structuredClone(deployment) as unknown as DeploymentShape;
    const container = typo.spec.template.spec.containers[0] as unknown as Record<string, unknown>;
    container['readinesProbe'] = container['readinessProbe'];
    delete container['readinessProbe'];
    expect(() => validate(typo as unknown as KubeObject)).toThrow(
      'spec.template.spec.containers[0].readinesProbe',
    );
    const misplaced = structuredClone(deployment) as unknown as { spec: Record<string, unknown> };
    misplaced.spec['replica'] = 2;
    expect(() => validate(misplaced as unknown as KubeObject)).toThrow('spec.replica');
  });

  it('the schema validation refuses a broken object', () => {
    const [deployment] = renderKustomization(join(KUBERNETES, 'base')).filter(
      (object) => object.kind === 'Deployment',
    );
    const broken = {
      ...deployment,
      spec: { ...(deployment?.spec as object), replicas: 'three' },
    } as KubeObject;
    expect(() => validate(broken)).toThrow();
  });
});

describe('overlay chrony-nts (NTS through a chronyd sidecar)', () => {
  const dir = join(KUBERNETES, 'overlays', 'chrony-nts');
  const objects = renderKustomization(dir);
  interface Mount {
    name: string;
    mountPath: string;
  }
  interface Container {
    name: string;
    image: string;
    command?: string[];
    lifecycle?: { preStop?: { exec: { command: string[] } } };
    volumeMounts: Mount[];
    securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
  }
  const pod = find<DeploymentShape>(objects, 'Deployment').spec.template.spec as unknown as {
    terminationGracePeriodSeconds: number;
    containers: Container[];
    volumes: { name: string; emptyDir?: object; configMap?: { name: string } }[];
  };
  const configMaps = objects.filter((object) => object.kind === 'ConfigMap') as unknown as {
    metadata: { name: string };
    data: Record<string, string>;
  }[];
  const data = (name: string) => configMaps.find((map) => map.metadata.name === name)?.data ?? {};
  /** chronyd's own argv: the sidecar's command runs it through `sh -c '...; exec "$@"' sh`. */
  const chronydArguments = (container?: Container) => {
    const command = container?.command ?? [];
    return command[0] === 'sh' ? command.slice(4) : command;
  };

  it('renders as kubectl kustomize does, every object valid', () => {
    const kubectl = kubectlKustomize(dir);
    if (kubectl) expect(byKey(objects)).toEqual(byKey(kubectl));
    for (const object of objects)
      expect(() => validate(object), `${object.kind} ${object.metadata.name}`).not.toThrow();
  });

  it("keeps chronyd running through the TSA's drain, within the grace period", () => {
    // Both containers get SIGTERM once their own preStop ends; the clock gate reads chronyd
    // while in-flight requests finish, so chronyd must stop after the TSA's preStop and drain.
    const preStopSeconds = (container?: Container) => {
      const [program, seconds] = container?.lifecycle?.preStop?.exec.command ?? [];
      expect(program).toBe('sleep');
      return Number(seconds);
    };
    const [tsa, chrony] = ['timestamp-server', 'chrony'].map((name) =>
      pod.containers.find((container) => container.name === name),
    );
    const configText = data('timestamp-server-config')['timestamp-server.yaml'] ?? '';
    const config = parse(configText) as Record<string, string>;
    const gracefulSeconds = (parseDuration(String(config['graceful-timeout'])) ?? 0) / 1000;
    expect(gracefulSeconds).toBeGreaterThan(0);
    expect(preStopSeconds(chrony)).toBeGreaterThan(preStopSeconds(tsa) + gracefulSeconds);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds(chrony));
  });

  it('starts chronyd again after it was killed, though its pidfile names a live process', async () => {
    // In its container chronyd is PID 1, so a pidfile a SIGKILL left on the chrony-state emptyDir
    // (which outlives the container) names a live process at the next start: chronyd itself.
    // Here the sidecar's command runs as written, each of its mounts a temporary folder, the
    // pidfile naming this test's process; `server` lines dropped (no network in tests).
    const chrony = pod.containers.find((container) => container.name === 'chrony');
    const root = tempDir();
    try {
      const mounts = (chrony?.volumeMounts ?? []).map((mount) => mount.mountPath);
      const moved = (text: string) =>
        mounts.reduce((out, mount) => out.replaceAll(mount, root.path(mount.slice(1))), text);
      for (const mount of mounts) mkdirSync(root.path(mount.slice(1)), { recursive: true });
      const conf = (data('timestamp-server-chrony')['chrony.conf'] ?? '')
        .split('\n')
        .filter((line) => !line.startsWith('server '))
        .join('\n');
      const confPath = chronydArguments(chrony).find((argument) => argument.endsWith('.conf'));
      writeFileSync(moved(confPath ?? ''), moved(conf));
      const pidfile = moved(/^pidfile (\S+)$/m.exec(conf)?.[1] ?? '');
      expect(dirname(pidfile)).not.toBe(root.dir);
      writeFileSync(pidfile, `${process.pid}\n`);
      // The image's user is `node` (-u node); here the user running the test.
      const user = process.getuid?.() === 0 ? 'root' : userInfo().username;
      const command = (chrony?.command ?? []).map((argument) =>
        argument === 'node' ? user : moved(argument),
      );
      const child = spawn(command[0] ?? '', command.slice(1), {
        env: childEnvironment({ PATH: `${process.env.PATH ?? ''}:/usr/sbin` }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      reapChild(child);
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit');
      // Until chronyd has written its own pid there (`exec` kept the shell's), or has exited.
      const pidInFile = (): number => {
        try {
          return Number(readFileSync(pidfile, 'utf8'));
        } catch (error) {
          // Gone between the sidecar's `rm -f` and chronyd writing its own (checked then read, it
          // could vanish in between).
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
          throw error;
        }
      };
      while (pidInFile() !== child.pid && child.exitCode === null)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const running = child.exitCode === null;
      child.kill('SIGTERM');
      await exited;
      expect(output).not.toMatch(/Another chronyd may already be running/);
      expect(running, output).toBe(true);
    } finally {
      root.cleanup();
    }
  });

  it('runs chronyd beside the TSA, same image, without touching the clock, read-only and unprivileged', () => {
    const [tsa, chrony] = ['timestamp-server', 'chrony'].map((name) =>
      pod.containers.find((container) => container.name === name),
    );
    expect(chrony?.image).toBe(tsa?.image);
    expect(chronydArguments(chrony).slice(0, 3)).toEqual(['chronyd', '-d', '-x']);
    expect(chrony?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    // The command socket lives on a volume both containers mount at the same place.
    const shared = (container?: Container) =>
      container?.volumeMounts.find((mount) => mount.name === 'chrony-run')?.mountPath;
    expect(shared(tsa)).toBe(shared(chrony));
    expect(pod.volumes.find((volume) => volume.name === 'chrony-run')?.emptyDir).toBeDefined();

    const chronyConf = data('timestamp-server-chrony')['chrony.conf'] ?? '';
    const socket = /^bindcmdaddress (\S+)$/m.exec(chronyConf)?.[1];
    expect(socket?.startsWith(`${shared(chrony)}/`)).toBe(true);
    const configMount = chrony?.volumeMounts.find((mount) => mount.name === 'chrony-config');
    expect(chronydArguments(chrony)).toContain(`${configMount?.mountPath}/chrony.conf`);
    // Every server is NTS, and an unauthenticated one is never selected.
    const servers = chronyConf.split('\n').filter((line) => line.startsWith('server '));
    expect(servers.length).toBeGreaterThanOrEqual(3);
    for (const server of servers) expect(server.split(/\s+/)).toContain('nts');
    expect(chronyConf).toMatch(/^authselectmode require$/m);

    // The TSA reads that socket, NTS required; the file loads as a configuration.
    const configText = data('timestamp-server-config')['timestamp-server.yaml'] ?? '';
    const { config } = loadServeConfig({
      flags: {},
      env: {},
      configPath: work.write('chrony-nts.yaml', configText),
    });
    expect(config).toMatchObject({
      timeSource: 'chrony',
      chronySocket: socket,
      requireNts: true,
      timestampSigner: 'memory',
    });
  });
});
