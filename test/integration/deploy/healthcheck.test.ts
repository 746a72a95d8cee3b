import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createClockGate } from '../../../src/clock/clock-gate.js';
import { ClockMonitor } from '../../../src/clock/clock-monitor.js';
import { execForm, parseDockerfile } from '../../helpers/dockerfile.js';
import { closedPort } from '../../helpers/process.js';
import { renderKustomization } from '../../helpers/kustomize.js';
import { answer, SntpResponder } from '../../helpers/sntp-responder.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';
import { createTestServer } from '../../helpers/tsa.js';
import { ONE_SERVER_SETTINGS } from '../../helpers/clock-settings.js';

/**
 * The container health checks must not restart a process whose clock drifted: a restart does not
 * fix the clock, and the server recovers by itself once the clock is back. So they probe /livez;
 * /ping and /readyz go red while drifted (the load balancer stops sending requests).
 */

const dockerHealthcheck = (() => {
  const deploy = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).find(
    (stage) => stage.name === 'deploy',
  );
  const args = deploy?.instructions.find((item) => item.keyword === 'HEALTHCHECK')?.args ?? '';
  return execForm(args.replace(/^.*?CMD\s+/, ''));
})();
const composeHealthcheck = (
  parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { healthcheck: { test: string[] } }>;
  }
).services['timestamp-server']?.healthcheck.test.slice(1) as string[];

/**
 * Runs a health check command (exec form) as the container would, with `url`'s port as $PORT (the
 * checks probe 127.0.0.1 on the server's port).
 */
function runCheck(command: string[], url: string): Promise<number> {
  const [program = '', ...args] = command;
  const { hostname, port } = new URL(url);
  expect(hostname).toBe('127.0.0.1');
  return new Promise((resolve) => {
    const child = execFile(program === 'node' ? process.execPath : program, args, {
      env: { PATH: process.env['PATH'] ?? '', PORT: port },
    });
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

describe('container health checks on a server whose clock drifted', () => {
  let url = '';
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  beforeAll(async () => {
    const responder = await SntpResponder.start(answer({ offsetMs: 30_000 }));
    cleanups.push(() => responder.close());
    const monitor = new ClockMonitor({
      ...ONE_SERVER_SETTINGS,
      servers: [responder.address],
      retryDelayMs: 10,
    });
    const server = await createTestServer({}, {}, [
      createClockGate(monitor, { requireTimeSync: false }),
    ]);
    cleanups.push(() => server.app.close());
    expect((await monitor.runRound()).state).toBe('drifted');
    url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  });

  it('/ping and /readyz are 503, /livez is 200', async () => {
    expect((await fetch(`${url}/ping`)).status).toBe(503);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/livez`)).status).toBe(200);
  });

  it("the Dockerfile's HEALTHCHECK passes", async () => {
    expect(await runCheck(dockerHealthcheck, url)).toBe(0);
  });

  it("docker-compose's healthcheck passes", async () => {
    expect(composeHealthcheck.slice(0, 2)).toEqual(['node', '-e']);
    expect(await runCheck(composeHealthcheck, url)).toBe(0);
  });

  it('the Kubernetes liveness probe answers 200 and the readiness probe 503', async () => {
    const deployment = renderKustomization(join(REPO_ROOT, 'deploy', 'kubernetes', 'base')).find(
      (object) => object.kind === 'Deployment',
    ) as unknown as {
      spec: {
        template: {
          spec: {
            containers: Record<'livenessProbe' | 'readinessProbe', { httpGet: { path: string } }>[];
          };
        };
      };
    };
    const [container] = deployment.spec.template.spec.containers;
    expect((await fetch(`${url}${container?.livenessProbe.httpGet.path}`)).status).toBe(200);
    expect((await fetch(`${url}${container?.readinessProbe.httpGet.path}`)).status).toBe(503);
  });

  it('the checks fail where nothing listens', async () => {
    const port = await closedPort();
    try {
      const closed = `http://127.0.0.1:${port.port}`;
      expect(await runCheck(dockerHealthcheck, closed)).not.toBe(0);
      expect(await runCheck(composeHealthcheck, closed)).not.toBe(0);
    } finally {
      await port.close();
    }
  });
});
