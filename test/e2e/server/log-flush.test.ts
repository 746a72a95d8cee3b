/**
 * The prod log keeps lines until the end of each event-loop turn
 * (src/server/log-destination.ts), then a writer thread writes them: no line may be lost on any way
 * out of the real server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  runCli,
  spawnServer,
  type SpawnedServer,
  MISSING_FILE_SIGNER,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';
import { listenerClosed, splitRequest } from '../../helpers/split-request.js';

interface LogLine {
  message?: string;
  severity?: string;
  serialNumber?: string;
  worker?: number;
}
const parse = (lines: string[]): LogLine[] => lines.map((line) => JSON.parse(line) as LogLine);
const serials = (lines: LogLine[]) =>
  lines.filter((line) => line.message === 'request completed').map((line) => line.serialNumber);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(args: string[]): Promise<SpawnedServer> {
  const server = await spawnServer(args);
  cleanups.push(() => server.stop());
  return server;
}

/** Requests held in flight, SIGTERM, then their bodies: every one is answered while draining. */
async function answeredWhileDraining(server: SpawnedServer, count: number) {
  const burst = Array.from({ length: count }, () => splitRequest(server.url));
  await Promise.all(burst.map((request) => request.sendFirstPart()));
  expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  server.child.kill('SIGTERM');
  await listenerClosed(server.url);
  burst.forEach((request) => request.sendRest());
  const responses = await Promise.all(burst.map((request) => request.response));
  const statuses = responses.map((response) => response.status);
  // A worker that had not read a request's head when it began draining answers 503 (Fastify's
  // return503OnClosing): a race of the test, not a lost line. Every request gets an answer.
  expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
  // 'close': every byte the process wrote has been read.
  expect(await server.exited).toBe(0);
  return {
    lines: parse(server.lines),
    granted: statuses.filter((status) => status === 200).length,
  };
}

describe('no log line is lost on the way out', () => {
  it('SIGTERM: a line for every request answered while draining, then "shut down", last', async () => {
    const { lines, granted } = await answeredWhileDraining(await start([]), 40);
    const logged = serials(lines);
    expect(granted).toBeGreaterThan(0);
    expect(logged).toHaveLength(granted);
    expect(new Set(logged).size).toBe(granted);
    expect(lines.at(-1)?.message).toBe('shut down');
  });

  it("a cluster worker's exit: both workers' request lines and their draining lines", async () => {
    const { lines, granted } = await answeredWhileDraining(await start(['--workers', '2']), 40);
    expect(granted).toBeGreaterThan(0);
    expect(serials(lines)).toHaveLength(granted);
    expect(lines.filter((line) => line.message === 'asked by the primary, draining')).toHaveLength(
      2,
    );
    expect(lines.at(-1)?.message).toBe('shut down');
  });

  it('a fatal start-up error: the FATAL line is written before the exit', async () => {
    const run = runCli([...SERVE_ON_EPHEMERAL_PORTS, ...MISSING_FILE_SIGNER]);
    expect(await run.exited).toBe(1);
    const lines = parse(run.stdout().trim().split('\n'));
    expect(lines.at(-1)).toMatchObject({ severity: 'FATAL' });
    expect(lines.at(-1)?.message).toMatch(/^cannot start: /);
  });

  // A worker that cannot start: its FATAL line is checked with the cluster's start-up refusal
  // (test/e2e/server/cluster.test.ts), which runs that same command.
});
