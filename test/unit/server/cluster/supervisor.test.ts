import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WORKER_SLOT_VARIABLE } from '../../../../src/runtime/cluster/messages.js';
import { createWorkerSupervisor } from '../../../../src/runtime/cluster/supervisor.js';
import { auditPathForSlot } from '../../../../src/server/audit-log-file.js';

/** A worker process as the supervisor sees it: events, an id, a pid; records what it is sent. */
class FakeWorker extends EventEmitter {
  readonly process: { pid: number; kill: (signal?: string) => boolean };
  /** The messages the supervisor sent it. */
  readonly sent: { type?: string }[] = [];
  /** The signals the supervisor sent it. */
  readonly signals: string[] = [];
  constructor(readonly id: number) {
    super();
    this.process = {
      pid: 4000 + id,
      kill: (signal = 'SIGTERM') => {
        this.signals.push(signal);
        return true;
      },
    };
  }
  send(message: { type?: string }): boolean {
    this.sent.push(message);
    return true;
  }
  isDead(): boolean {
    return false;
  }
  isConnected(): boolean {
    return true;
  }
  hello(): void {
    this.emit('message', { type: 'tsa:hello' });
  }
  serve(): void {
    this.emit('message', { type: 'tsa:serving', url: `http://127.0.0.1:${3000 + this.id}` });
  }
  /** Says hello, gets its setup and serves, as a worker that starts does. */
  start(): void {
    this.hello();
    this.serve();
  }
  exit(code: number | null, signal: string | null = null): void {
    this.emit('exit', code, signal);
  }
  /** Says why its start-up failed, then exits 1, as a worker whose start-up fails does. */
  failStart(reason: string): void {
    this.emit('message', { type: 'tsa:start-failed', reason });
    this.exit(1);
  }
}

function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (first: unknown, second?: unknown): void => {
      lines.push({ level, message: String(typeof first === 'string' ? first : second) });
    };
  const logger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
  } as unknown as FastifyBaseLogger;
  return { logger, lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the worker supervisor', () => {
  it('survives a fork that throws while replacing a dead worker, and tries again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { logger, lines } = recordingLogger();
      const forks: (() => FakeWorker)[] = [
        () => new FakeWorker(1),
        () => {
          throw new Error('spawn EAGAIN');
        },
        () => new FakeWorker(2),
      ];
      const forked: FakeWorker[] = [];
      const supervisor = createWorkerSupervisor({
        workerCount: 1,
        gracefulTimeoutMs: 1_000,
        logger,
        setup: () => ({ type: 'tsa:setup' }) as never,
        forkWorker: () => {
          const worker = (forks.shift() as () => FakeWorker)();
          forked.push(worker);
          return worker as unknown as Worker;
        },
      });
      const starting = supervisor.start();
      forked[0]?.serve();
      await expect(starting).resolves.toEqual({ url: 'http://127.0.0.1:3001' });

      forked[0]?.emit('exit', 1, null);
      await vi.advanceTimersByTimeAsync(1_000); // the replacement's fork throws
      await vi.advanceTimersByTimeAsync(2_000); // ...and is tried again, after a pause twice as long
      forked[1]?.serve();
      await vi.advanceTimersByTimeAsync(0);
      // Let a rejection left unhandled by the throwing fork surface.
      await new Promise((resolve) => setImmediate(resolve));

      expect(unhandled).toEqual([]);
      expect(lines).toContainEqual({
        level: 'error',
        message: 'cannot start a replacement worker: spawn EAGAIN; trying again in 2 s',
      });
      expect(lines).toContainEqual({ level: 'info', message: 'worker 2 replaced' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('gives each worker a slot 1..N, and a replacement the slot of the worker it replaces', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { logger } = recordingLogger();
    const forked: { worker: FakeWorker; env: Record<string, string> }[] = [];
    const supervisor = createWorkerSupervisor({
      workerCount: 2,
      gracefulTimeoutMs: 1_000,
      logger,
      setup: () => ({ type: 'tsa:setup' }) as never,
      forkWorker: (env) => {
        const worker = new FakeWorker(forked.length + 1);
        forked.push({ worker, env });
        return worker as unknown as Worker;
      },
    });
    const starting = supervisor.start();
    for (const { worker } of forked) worker.serve();
    await starting;
    forked[1]?.worker.emit('exit', 1, null);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(forked.map(({ env }) => env[WORKER_SLOT_VARIABLE])).toEqual(['1', '2', '2']);
    expect(auditPathForSlot('/var/log/tsa/audit.jsonl', 2)).toBe(
      '/var/log/tsa/audit.worker-2.jsonl',
    );
    expect(auditPathForSlot('/var/log/tsa.d/audit', 1)).toBe('/var/log/tsa.d/audit.worker-1');
  });
});

/** A supervisor of fake workers; `forked` lists them in fork order, with their environments. */
function supervised(
  options: Partial<Parameters<typeof createWorkerSupervisor>[0]> & { workerCount: number },
) {
  const { logger, lines } = recordingLogger();
  const forked: FakeWorker[] = [];
  const slots: string[] = [];
  let exits = 0;
  const supervisor = createWorkerSupervisor({
    gracefulTimeoutMs: 1_000,
    logger,
    setup: () => ({ type: 'tsa:setup' }) as never,
    onUnexpectedExit: () => exits++,
    forkWorker: (env) => {
      const worker = new FakeWorker(forked.length + 1);
      forked.push(worker);
      slots.push(env[WORKER_SLOT_VARIABLE] ?? '');
      return worker as unknown as Worker;
    },
    ...options,
  });
  return { supervisor, forked, slots, lines, exits: () => exits };
}

/** A supervisor whose first workers all serve (start() resolved). */
async function serving(options: Parameters<typeof supervised>[0]) {
  const started = supervised(options);
  const starting = started.supervisor.start();
  for (const worker of started.forked) worker.start();
  await starting;
  return started;
}

/** Where a promise stands after the microtasks that are due have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  const settled = promise.then(
    () => 'resolved',
    (error: unknown) => `rejected: ${error instanceof Error ? error.message : String(error)}`,
  );
  return Promise.race([
    settled,
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

describe('the worker supervisor while the server starts', () => {
  it('a worker that served and dies while another still starts stops the start-up', async () => {
    const { supervisor, forked, exits } = supervised({ workerCount: 2 });
    const starting = supervisor.start();
    forked[0]?.start();
    forked[0]?.exit(1);
    forked[1]?.start();
    expect(await outcome(starting)).toBe(
      'rejected: worker 1 exited with code 1 while the other workers were starting',
    );
    // Not a replacement's count: the start-up failed, and says so.
    expect(exits()).toBe(0);
    expect(forked).toHaveLength(2);
  });

  it('a worker that dies before serving stops the start-up; those still starting get SIGTERM', async () => {
    const { supervisor, forked } = supervised({ workerCount: 3 });
    const starting = supervisor.start();
    forked[0]?.start();
    forked[1]?.hello();
    forked[2]?.exit(1);
    expect(await outcome(starting)).toBe('rejected: worker 3 exited with code 1 before serving');
    // The serving one is left to drain(); the one still starting has no handler to drain with.
    expect(forked.map((worker) => worker.signals)).toEqual([[], ['SIGTERM'], []]);
  });

  it("says why a worker's start-up failed, as the worker said it (the primary's line is the last)", async () => {
    const { supervisor, forked } = supervised({ workerCount: 2 });
    const starting = supervisor.start();
    forked[0]?.start();
    forked[1]?.failStart('listen EADDRINUSE: address already in use 127.0.0.1:3443');
    expect(await outcome(starting)).toBe(
      'rejected: worker 2 exited with code 1 before serving: listen EADDRINUSE: address already in use 127.0.0.1:3443',
    );
  });

  it('an aborted start-up ends the workers still starting and leaves the serving ones to drain', async () => {
    const { supervisor, forked } = supervised({ workerCount: 2 });
    const stop = new AbortController();
    const starting = supervisor.start(stop.signal);
    forked[0]?.start();
    forked[1]?.hello();
    expect(await outcome(starting)).toBe('pending');
    stop.abort();
    expect(await outcome(starting)).toBe('rejected: the start-up was stopped by a signal');
    expect(forked.map((worker) => worker.signals)).toEqual([[], ['SIGTERM']]);

    const draining = supervisor.drain();
    expect(forked[0]?.sent.at(-1)).toEqual({ type: 'tsa:drain' });
    forked[0]?.exit(0);
    forked[1]?.exit(null, 'SIGTERM');
    expect(await outcome(draining)).toBe('resolved');
  });

  it('a start-up aborted before it began forks nothing', async () => {
    const { supervisor, forked } = supervised({ workerCount: 2 });
    const stop = new AbortController();
    stop.abort();
    expect(await outcome(supervisor.start(stop.signal))).toBe(
      'rejected: the start-up was stopped by a signal',
    );
    expect(forked).toHaveLength(0);
  });
});

describe('the worker supervisor on shutdown', () => {
  it('ends a worker that had not said hello with SIGTERM, and sends no setup to one that says it later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { supervisor, forked } = await serving({ workerCount: 2 });
    // A replacement forked just before the SIGTERM, still loading its modules.
    forked[1]?.exit(null, 'SIGKILL');
    await vi.advanceTimersByTimeAsync(1_000);
    const replacement = forked[2];
    expect(replacement).toBeDefined();

    const draining = supervisor.drain();
    expect(forked[0]?.sent.at(-1)).toEqual({ type: 'tsa:drain' });
    // Not a drain message it would drop for want of a listener: SIGTERM, which it has no handler for.
    expect(replacement?.sent).toEqual([]);
    expect(replacement?.signals).toEqual(['SIGTERM']);
    // Had it loaded its modules before the signal landed: no setup (keys) now, SIGTERM again.
    replacement?.hello();
    expect(replacement?.sent).toEqual([]);
    expect(replacement?.signals).toEqual(['SIGTERM', 'SIGTERM']);

    forked[0]?.exit(0);
    replacement?.exit(null, 'SIGTERM');
    expect(await outcome(draining)).toBe('resolved');
    expect(forked.flatMap((worker) => worker.signals)).not.toContain('SIGKILL');
  });

  it('fails the shutdown when a serving worker exits with a failure while draining', async () => {
    const { supervisor, forked, lines } = await serving({ workerCount: 2 });
    const draining = supervisor.drain();
    forked[0]?.exit(0);
    forked[1]?.exit(1);
    expect(await outcome(draining)).toBe(
      'rejected: worker 2 (pid 4002) exited with code 1 while draining: requests in flight may have been cut',
    );
    expect(lines).toContainEqual({
      level: 'error',
      message: 'worker 2 (pid 4002) exited with code 1 while draining',
    });
    expect(lines).toContainEqual({
      level: 'info',
      message: 'worker 1 (pid 4001) drained and exited',
    });
  });

  it('kills a worker still running at the drain deadline, and fails the shutdown', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { supervisor, forked, lines } = await serving({ workerCount: 2 });
    const draining = supervisor.drain();
    forked[0]?.exit(0);
    // --graceful-timeout (1 s) + 15 s: the 10 s an exiting worker may wait for a log reader, and 5 s.
    await vi.advanceTimersByTimeAsync(15_999);
    expect(forked[1]?.signals).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(forked[1]?.signals).toEqual(['SIGKILL']);
    expect(lines).toContainEqual({
      level: 'warn',
      message: 'worker 2 did not exit after draining; killing it',
    });
    forked[1]?.exit(null, 'SIGKILL');
    expect(await outcome(draining)).toMatch(
      /^rejected: worker 2 \(pid 4002\) exited with signal SIGKILL while draining/,
    );
  });

  it('forks no replacement once the drain has begun', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { supervisor, forked, exits } = supervised({ workerCount: 1 });
    const starting = supervisor.start();
    forked[0]?.start();
    await starting;
    forked[0]?.exit(1);
    expect(exits()).toBe(1);
    const draining = supervisor.drain();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(forked).toHaveLength(1);
    expect(await outcome(draining)).toBe('resolved');
  });
});

describe('the worker supervisor replacing workers', () => {
  it('pauses longer after each quick death of a slot (1 s doubling to 60 s), each counted; a worker that served a while resets it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { forked, slots, lines, exits } = await serving({ workerCount: 2 });

    /** Lets `ms` pass; returns how many workers were forked meanwhile. */
    const forksWithin = async (ms: number) => {
      const before = forked.length;
      await vi.advanceTimersByTimeAsync(ms);
      return forked.length - before;
    };
    // Slot 2's replacements refuse their setup (a changed key file): each dies before serving.
    forked[1]?.exit(1);
    const pauses: number[] = [];
    for (let death = 0; death < 9; death++) {
      let waited = 0;
      while ((await forksWithin(500)) === 0) waited += 500;
      pauses.push(waited + 500);
      forked.at(-1)?.hello();
      forked.at(-1)?.failStart('the chain file changed since the primary read it');
    }
    expect(pauses).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(exits()).toBe(10);
    expect(lines.filter((line) => line.level === 'error')).toHaveLength(10);
    expect(lines.at(-1)?.message).toBe(
      `worker ${forked.at(-1)?.id} (pid ${forked.at(-1)?.process.pid}) exited with code 1: the chain file changed since the primary read it; starting a replacement in 60 s`,
    );

    // One serves at last, for long enough: its death is replaced at once, and the pause starts over.
    expect(await forksWithin(60_000)).toBe(1);
    forked.at(-1)?.start();
    await vi.advanceTimersByTimeAsync(10_000);
    forked.at(-1)?.exit(null, 'SIGSEGV');
    expect(await forksWithin(0)).toBe(1);
    forked.at(-1)?.exit(1);
    expect(await forksWithin(999)).toBe(0);
    expect(await forksWithin(1)).toBe(1);
    // Slot 1 was never touched; every replacement took slot 2.
    expect(new Set(slots.slice(2))).toEqual(new Set(['2']));
    expect(forked[0]?.signals).toEqual([]);
  });

  it('a worker that served, but not for long, is replaced after the pause', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { supervisor, forked } = supervised({ workerCount: 1 });
    const starting = supervisor.start();
    forked[0]?.start();
    await starting;
    await vi.advanceTimersByTimeAsync(9_000);
    forked[0]?.exit(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(forked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(forked).toHaveLength(2);
  });
});
