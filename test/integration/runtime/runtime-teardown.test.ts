import { createServer, Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { DisposableStack } from '../../../src/runtime/disposables.js';
import { startServer } from '../../../src/runtime/serve.js';
import { tempDir } from '../../helpers/openssl.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { silent, SntpResponder } from '../../helpers/sntp-responder.js';
import { silentLogger } from '../../helpers/tsa.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function bind(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;
const closeServer = (server: Server) => new Promise((resolve) => server.close(resolve));

/** How many of each kind of handle (timers, sockets...) keep the process alive. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of handle of which there are more now than before, with how many more. */
function grownSince(
  before: Record<string, number>,
  now: Record<string, number>,
): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [kind, count] of Object.entries(now)) {
    if (count > (before[kind] ?? 0)) grown[kind] = count - (before[kind] ?? 0);
  }
  return grown;
}

describe('a start-up that fails half way', () => {
  it('releases the metrics port, stops the NTP monitor and the SIGHUP handler', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const responder = await SntpResponder.start(silent);
    cleanups.push(() => responder.close());
    const ntp = dir.write(
      'ntp.yaml',
      `request_attempts: 1\nrequest_timeout: 5\nmax_time_delta: 6\nnum_servers: 1\nserver_threshold: 1\nperiod: 60\nservers: ["127.0.0.1:${responder.address.port}"]\n`,
    );
    // The responder never answers: the monitor's first round holds a socket and a timer until stopped.
    // The HTTP port is taken, so the start-up fails once the metrics listener is up.
    const taken = await bind();
    cleanups.push(() => closeServer(taken));
    // The metrics listener on any free port (0), seen as it listens: no port freed here and bound
    // again later, which another process could take meanwhile.
    const listening: Server[] = [];
    const listen = Server.prototype.listen;
    const spy = vi.spyOn(Server.prototype, 'listen').mockImplementation(function (
      this: Server,
      ...args: unknown[]
    ) {
      this.once('listening', () => listening.push(this));
      return (listen as (...a: unknown[]) => Server).apply(this, args);
    });
    cleanups.push(() => spy.mockRestore());
    const before = activeResources();
    const hangupListeners = process.listenerCount('SIGHUP');

    await expect(
      startServer(
        resolveServeConfig({
          host: '127.0.0.1',
          port: portOf(taken),
          metricsPort: 0,
          ntpMonitoring: ntp,
          auditLog: dir.path('audit.jsonl'),
        }),
        silentLogger,
      ),
    ).rejects.toThrow(/address already in use|in use/i);
    spy.mockRestore();

    // The metrics listener was up, and is closed: its port is released.
    expect(listening).toHaveLength(1);
    expect(listening[0]?.listening).toBe(false);
    expect(process.listenerCount('SIGHUP')).toBe(hangupListeners);
    // Only what the start-up added counts: a timer that was pending before may end meanwhile.
    // Handles being closed finish closing in their own time: polled until none is left over.
    await expect.poll(() => grownSince(before, activeResources()), UNTIL_SETTLED).toEqual({});
  });
});

describe('DisposableStack', () => {
  it('tears down last built first, all of them even when one fails, and only once', async () => {
    const order: string[] = [];
    const stack = new DisposableStack();
    stack.defer(() => order.push('clock'));
    stack.use({ [Symbol.asyncDispose]: async () => void order.push('signer') });
    stack.use(undefined);
    stack.defer(() => {
      order.push('metrics');
      throw new Error('metrics close failed');
    });
    stack.defer(async () => void order.push('listeners'));
    await expect(stack[Symbol.asyncDispose]()).rejects.toThrow('metrics close failed');
    expect(order).toEqual(['listeners', 'metrics', 'signer', 'clock']);
    // Again: the same outcome, nothing torn down twice.
    await expect(stack[Symbol.asyncDispose]()).rejects.toThrow('metrics close failed');
    expect(order).toHaveLength(4);
    expect(() => stack.defer(() => undefined)).toThrow('already disposed');
  });

  it('disposed again while a teardown runs: settles when that teardown ends, not before', async () => {
    const order: string[] = [];
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const stack = new DisposableStack();
    stack.defer(async () => {
      await released;
      order.push('drained');
    });
    const first = stack[Symbol.asyncDispose]();
    const second = stack[Symbol.asyncDispose]().then(() => order.push('second settled'));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['drained', 'second settled']);
  });
});
