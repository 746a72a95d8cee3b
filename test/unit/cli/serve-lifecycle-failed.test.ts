import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { serveUntilSignalled, type Stoppable } from '../../../src/cli/serve-lifecycle.js';
import { RuntimeError } from '../../../src/runtime/runtime-error.js';

/**
 * A server that fails while serving (a cluster none of whose workers has served for a minute) is
 * drained and the process exits 1, so that Docker's or systemd's restart policy, or Kubernetes,
 * starts it again; before, it ran on with its port closed until someone noticed.
 */

/** A promise and the hand that resolves it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((yes) => (resolve = yes));
  return { promise, resolve };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function serving() {
  const lines: string[] = [];
  const signals = new EventEmitter();
  const exits: number[] = [];
  const failed = deferred<Error>();
  const closing = deferred<void>();
  let closes = 0;
  const server: Stoppable = {
    close: () => {
      closes++;
      return closing.promise;
    },
    failed: failed.promise,
  };
  const status = await serveUntilSignalled(async () => server, {
    logger: {
      info: (message) => lines.push(message),
      error: (_fields, message) => lines.push(message),
      fatal: (message) => lines.push(`FATAL ${message}`),
      debug: () => undefined,
    },
    gracefulTimeoutMs: 15_000,
    signals,
    exit: (code) => exits.push(code),
    takeOver: () => undefined,
  });
  expect(status).toBeUndefined();
  return { lines, signals, exits, failed, closing, closes: () => closes };
}

const noWorker = () =>
  new RuntimeError(
    'NO_WORKER_SERVING',
    'no worker has served for 60 s: the last one exited, and no replacement has served since',
  );

describe('a server that fails while serving', () => {
  it('is drained, then the process exits 1', async () => {
    const { lines, exits, failed, closing, closes } = await serving();
    failed.resolve(noWorker());
    await settle();
    expect(lines).toContain(
      'FATAL cannot serve: no worker has served for 60 s: the last one exited, and no replacement has served since; draining, then exiting with 1',
    );
    expect(closes()).toBe(1);
    expect(exits).toEqual([]);
    closing.resolve();
    await settle();
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toBe('shut down');
  });

  it('a signal during that drain waits for it, and the exit is still 1', async () => {
    const { lines, signals, exits, failed, closing, closes } = await serving();
    failed.resolve(noWorker());
    await settle();
    signals.emit('SIGTERM');
    expect(lines.at(-1)).toBe(
      'received SIGTERM, a drain is already under way: waiting for it to end',
    );
    closing.resolve();
    await settle();
    expect(closes()).toBe(1);
    expect(exits).toEqual([1]);
  });

  it('a failure during a drain begun by a signal changes nothing: exit 0', async () => {
    const { lines, signals, exits, failed, closing, closes } = await serving();
    signals.emit('SIGTERM');
    failed.resolve(noWorker());
    await settle();
    expect(lines.some((line) => line.startsWith('FATAL'))).toBe(false);
    closing.resolve();
    await settle();
    expect(closes()).toBe(1);
    expect(exits).toEqual([0]);
  });
});
