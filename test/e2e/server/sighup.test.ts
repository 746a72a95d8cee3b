import { once } from 'node:events';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WORKER_ROLE_VARIABLE } from '../../../src/runtime/cluster/messages.js';
import { spawnHeldAtImport } from '../../helpers/held-import.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { cliArguments, SERVE_ON_EPHEMERAL_PORTS, spawnServer } from '../../helpers/spawn-server.js';
import { listenerClosed, splitRequest } from '../../helpers/split-request.js';

/**
 * SIGHUP (logrotate's `kill -HUP`, docs/operations.md) never kills the server, whenever it comes:
 * while it starts, before any audit log is open (the executable entry ignores it from its first
 * moment), and in a cluster primary while it drains its workers, which are still told to reopen
 * their audit logs. A start-up is held by a module hook (test/helpers/hold-import.mjs) at an import
 * it makes, and released once the signal was sent; a drain by requests sent in part.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface LogLine {
  message?: string;
  pid?: number;
  worker?: number;
}

/** GET /ping on a connection of its own (node:cluster hands each new one to the next worker). */
function ping(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(`${url}/ping`, { agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const parse = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

describe('SIGHUP while the server starts', () => {
  const holds = {
    // While the program's modules load, before any of serve runs.
    'the modules load': String.raw`/src/cli/server-program\.[jt]s$`,
    // Half way through serve's start-up: the authority made, the HTTP app being built.
    'the app is built': String.raw`/node_modules/@fastify/rate-limit/`,
  };
  for (const [when, module] of Object.entries(holds)) {
    it(`while ${when}: no audit log, the start-up goes on, serves, and a SIGTERM ends it with 0`, async () => {
      const run = spawnHeldAtImport(module, [
        ...cliArguments(),
        ...SERVE_ON_EPHEMERAL_PORTS,
        '--rate-limit-max',
        '100',
      ]);
      await run.held;
      run.child.kill('SIGHUP');
      run.release();
      await waitUntil(() => {
        if (run.ended())
          throw new Error(`the process ended before serving:\n${run.stderr()}\n${run.stdout()}`);
        return parse(run.stdout()).some((line) => line.message?.startsWith('serving timestamps'));
      }, 20);
      run.child.kill('SIGTERM');
      expect(await run.closed, run.stderr()).toEqual({ code: 0, signal: null });
      expect(parse(run.stdout()).at(-1)?.message).toBe('shut down');
    });
  }

  it('in a cluster worker while its modules load (a hang-up of the process group): it starts, and drains when told', async () => {
    // A worker as the primary forks one: node:cluster's NODE_UNIQUE_ID, our role variable, IPC.
    const run = spawnHeldAtImport(
      String.raw`/src/cli/server-program\.[jt]s$`,
      [...cliArguments(), 'serve'],
      [],
      {
        env: { NODE_UNIQUE_ID: '1', [WORKER_ROLE_VARIABLE]: '1' },
        ipc: true,
      },
    );
    await run.held;
    run.child.kill('SIGHUP');
    run.release();
    // Its hello, or its end (killed by the signal, it never says hello).
    const first = await Promise.race([
      once(run.child, 'message').then(([message]) => (message as { type: string }).type),
      run.closed.then((ended) => `ended: ${JSON.stringify(ended)}`),
    ]);
    expect(first).toBe('tsa:hello');
    run.child.send({ type: 'tsa:drain' });
    expect(await run.closed).toEqual({ code: 0, signal: null });
  });
});

describe('SIGHUP while a cluster primary drains', () => {
  it('the primary lives on, the draining workers reopen their audit logs, the requests in flight are answered and recorded there, exit 0', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const slot = (n: number, suffix = '') => dir.path(`audit.worker-${n}.jsonl${suffix}`);
    const server = await spawnServer(['--workers', '2', '--audit-log', dir.path('audit.jsonl')]);
    cleanups.push(() => server.stop());
    const lines = () => server.lines.map((line) => JSON.parse(line) as LogLine);
    // Both workers serve (the primary's line may come before theirs).
    await waitUntil(
      () =>
        lines().filter((line) => /^worker \d+ serving timestamps/.test(line.message ?? ''))
          .length === 2,
      20,
    );
    // Requests in flight hold the drain: node:cluster hands connections out in turn, so both
    // workers have some.
    const inFlight = Array.from({ length: 4 }, () => splitRequest(server.url));
    await Promise.all(inFlight.map((request) => request.sendFirstPart()));
    // The primary hands connections to the workers in turn: once a later one to each worker is
    // answered, the workers have those in flight (a drain would reset one still on its way).
    expect(await ping(server.url)).toBe(200);
    expect(await ping(server.url)).toBe(200);

    server.child.kill('SIGTERM');
    await listenerClosed(server.url);
    // Rotated while draining.
    renameSync(slot(1), slot(1, '.1'));
    renameSync(slot(2), slot(2, '.1'));
    server.child.kill('SIGHUP');
    await waitUntil(
      () => lines().filter((line) => line.message === 'audit log reopened').length === 2,
      20,
    );
    inFlight.forEach((request) => request.sendRest());
    const responses = await Promise.all(inFlight.map((request) => request.response));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    expect(await server.exited, server.stderr()).toBe(0);
    const messages = lines().map((line) => line.message);
    expect(messages.filter((message) => message === 'asked by the primary, draining')).toHaveLength(
      2,
    );
    expect(messages).toContain('shut down');
    // Every granted token of the drain is in the reopened files.
    const granted = [slot(1), slot(2)]
      .flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []))
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { status?: string });
    expect(granted.filter((record) => record.status === 'granted')).toHaveLength(4);
  });
});
