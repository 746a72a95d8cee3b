import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  serveUntilSignalled,
  stoppedStatus,
  type Stoppable,
  type StopSignal,
} from '../../../src/cli/serve-lifecycle.js';
import { RuntimeError } from '../../../src/runtime/runtime-error.js';
import { untilAborted } from '../../../src/deadline.js';

/** A promise and the hands that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Lets the callbacks that are due run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A lifecycle whose start-up waits on `starting`; `held`: the signal the entry's handlers held. */
function lifecycle(held?: StopSignal) {
  const lines: string[] = [];
  const signals = new EventEmitter();
  const exits: number[] = [];
  const logger = {
    info: (message: string) => lines.push(message),
    error: (_fields: object, message: string) => lines.push(message),
    fatal: (message: string) => lines.push(`FATAL ${message}`),
    debug: () => undefined,
  };
  const starting = deferred<Stoppable>();
  let startSignal: AbortSignal | undefined;
  let starts = 0;
  /** The lifecycle's own handlers when it took the held signals over. */
  let handlersAtTakeOver: number | undefined;
  let closes = 0;
  const closing = deferred<void>();
  const server: Stoppable = {
    close: () => {
      closes++;
      return closing.promise;
    },
  };
  const run = serveUntilSignalled(
    (signal) => {
      starts++;
      startSignal = signal;
      return starting.promise;
    },
    {
      logger,
      gracefulTimeoutMs: 15_000,
      signals,
      exit: (code) => exits.push(code),
      takeOver: () => {
        handlersAtTakeOver = signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT');
        return held;
      },
    },
  );
  return {
    run,
    lines,
    signals,
    exits,
    starting,
    closing,
    server,
    closes: () => closes,
    starts: () => starts,
    handlersAtTakeOver: () => handlersAtTakeOver,
    startSignal: () => startSignal,
  };
}

describe('serve, from its first moment to its exit', () => {
  it('a SIGTERM while starting stops the start-up: the line, then exit 143', async () => {
    const life = lifecycle();
    life.signals.emit('SIGTERM');
    expect(life.lines).toEqual(['received SIGTERM while starting: stopping the start-up']);
    expect(life.startSignal()?.aborted).toBe(true);
    life.signals.emit('SIGINT');
    expect(life.lines.at(-1)).toBe(
      'received SIGINT while stopping the start-up: waiting for it to end',
    );
    life.starting.reject(new RuntimeError('START_STOPPED', 'the start-up was stopped by a signal'));
    expect(await life.run).toBe(143);
    expect(life.exits).toEqual([143]);
    expect(life.lines.at(-1)).toBe('start-up stopped by SIGTERM: exiting with 143');
    expect(life.closes()).toBe(0);
  });

  it('a SIGINT while starting: exit 130', async () => {
    const life = lifecycle();
    life.signals.emit('SIGINT');
    life.starting.reject(new RuntimeError('START_STOPPED', 'stopped'));
    expect(await life.run).toBe(130);
    expect(stoppedStatus('SIGINT')).toBe(130);
  });

  it('a signal held while the modules loaded stops the start-up before it begins: exit 143', async () => {
    const life = lifecycle('SIGTERM');
    // Taken over with both of its own handlers in place: no moment without one.
    expect(life.handlersAtTakeOver()).toBe(2);
    expect(life.starts()).toBe(0);
    expect(await life.run).toBe(143);
    expect(life.exits).toEqual([143]);
    expect(life.lines).toEqual([
      'received SIGTERM while starting: stopping the start-up',
      'start-up stopped by SIGTERM: exiting with 143',
    ]);
  });

  it('a held SIGINT: exit 130; a later signal waits for the stop as during any start-up', async () => {
    const life = lifecycle('SIGINT');
    life.signals.emit('SIGTERM');
    expect(await life.run).toBe(130);
    expect(life.lines).toEqual([
      'received SIGINT while starting: stopping the start-up',
      'received SIGTERM while stopping the start-up: waiting for it to end',
      'start-up stopped by SIGINT: exiting with 130',
    ]);
    expect(life.starts()).toBe(0);
  });

  it('nothing held: the start-up runs', async () => {
    const life = lifecycle();
    expect(life.handlersAtTakeOver()).toBe(2);
    expect(life.starts()).toBe(1);
    life.starting.resolve(life.server);
    expect(await life.run).toBeUndefined();
    expect(life.lines).toEqual([]);
  });

  it('a start-up that completes after the SIGTERM drains at once: exit 0', async () => {
    const life = lifecycle();
    life.signals.emit('SIGTERM');
    life.starting.resolve(life.server);
    expect(await life.run).toBeUndefined();
    expect(life.closes()).toBe(1);
    expect(life.lines.at(-1)).toBe('started after SIGTERM: draining at once');
    // A second signal during that drain waits for it.
    life.signals.emit('SIGTERM');
    expect(life.closes()).toBe(1);
    expect(life.exits).toEqual([]);
    life.closing.resolve();
    await settle();
    expect(life.exits).toEqual([0]);
    expect(life.lines.at(-1)).toBe('shut down');
  });

  it('a SIGTERM while serving drains; a failed shutdown exits 1', async () => {
    const life = lifecycle();
    life.starting.resolve(life.server);
    expect(await life.run).toBeUndefined();
    expect(life.startSignal()?.aborted).toBe(false);
    life.signals.emit('SIGTERM');
    expect(life.lines).toEqual([
      'received SIGTERM, draining: in-flight requests have 15000 ms to finish',
    ]);
    life.closing.reject(new RuntimeError('WORKER_DRAIN_FAILED', 'worker 2 exited with code 1'));
    await settle();
    expect(life.lines.at(-1)).toBe('shutdown failed');
    expect(life.exits).toEqual([1]);
  });

  it('a start-up failure without a signal is logged and returns its status; nothing exits', async () => {
    const life = lifecycle();
    life.starting.reject(new Error('cannot open /nonexistent/key.pem'));
    expect(await life.run).toBe(1);
    expect(life.lines).toEqual(['FATAL cannot start: cannot open /nonexistent/key.pem']);
    expect(life.exits).toEqual([]);
  });
});

describe("the start-up's abort signal", () => {
  it('carries START_STOPPED as its reason, which a start-up waiting on it rejects with', async () => {
    const life = lifecycle();
    const waited = untilAborted(new Promise<never>(() => {}), life.startSignal() as AbortSignal);
    life.signals.emit('SIGTERM');
    await expect(waited).rejects.toMatchObject({ code: 'START_STOPPED' });
    life.starting.reject(new RuntimeError('START_STOPPED', 'stopped'));
    expect(await life.run).toBe(143);
  });
});
