import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createWorkerSupervisor,
  NO_WORKER_SERVING_LIMIT_MS,
} from '../../../../src/runtime/cluster/supervisor.js';

/**
 * A server whose workers all died and whose replacements keep failing has its port closed, yet
 * its primary lives and answers /metrics: under Docker or systemd nothing would restart it. The
 * supervisor says how many workers serve, and gives up once none has served for a minute.
 * Timers are vitest's fakes.
 */

class FakeWorker extends EventEmitter {
  readonly process: { pid: number; kill: (signal?: string) => boolean };
  constructor(readonly id: number) {
    super();
    this.process = { pid: 4000 + id, kill: () => true };
  }
  send(): boolean {
    return true;
  }
  isConnected(): boolean {
    return true;
  }
  start(): void {
    this.emit('message', { type: 'tsa:hello' });
    this.serve();
  }
  serve(): void {
    this.emit('message', { type: 'tsa:serving', url: `http://127.0.0.1:${3000 + this.id}` });
  }
  /** Stops accepting on its own (its SIGTERM), and finishes what is in flight. */
  drainAlone(): void {
    this.emit('message', { type: 'tsa:draining' });
  }
  /** A replacement that refuses its setup: hello, then exit 1 before serving. */
  failToStart(): void {
    this.emit('message', { type: 'tsa:hello' });
    this.exit(1);
  }
  exit(code: number | null, signal: string | null = null): void {
    this.emit('exit', code, signal);
  }
}

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
} as unknown as FastifyBaseLogger;

async function serving(workerCount: number) {
  const forked: FakeWorker[] = [];
  const counts: number[] = [];
  const givenUp: string[] = [];
  const supervisor = createWorkerSupervisor({
    workerCount,
    gracefulTimeoutMs: 1_000,
    logger: quiet,
    setup: () => ({ type: 'tsa:setup' }) as never,
    forkWorker: () => {
      const worker = new FakeWorker(forked.length + 1);
      forked.push(worker);
      return worker as unknown as Worker;
    },
    onServingChange: (count) => counts.push(count),
    onNoWorkerServing: (error) => givenUp.push(error.message),
  });
  const starting = supervisor.start();
  for (const worker of [...forked]) worker.start();
  await starting;
  /** Every replacement forked from now on fails to start, until `stop()`. */
  let failing = true;
  const failReplacements = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const before = forked.length;
      await vi.advanceTimersByTimeAsync(Math.min(500, end - Date.now()));
      if (failing) for (const worker of forked.slice(before)) worker.failToStart();
    }
  };
  return {
    supervisor,
    forked,
    counts,
    givenUp,
    failReplacements,
    stopFailing: () => (failing = false),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the worker supervisor with no worker serving', () => {
  it('says how many serve, and gives up a minute after the last one exited while every replacement fails', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { forked, counts, givenUp, failReplacements } = await serving(2);
    expect(counts.at(-1)).toBe(2);
    forked[0]?.exit(1);
    expect(counts.at(-1)).toBe(1);
    await failReplacements(30_000);
    // One still serves: the server lives on, one worker short.
    expect(givenUp).toEqual([]);
    forked[1]?.exit(null, 'SIGSEGV');
    expect(counts.at(-1)).toBe(0);
    await failReplacements(NO_WORKER_SERVING_LIMIT_MS - 1);
    expect(givenUp).toEqual([]);
    expect(forked.length).toBeGreaterThan(4);
    await failReplacements(1);
    expect(givenUp).toEqual([
      'no worker has served for 60 s: the last one exited, and no replacement has served since',
    ]);
  });

  it('a replacement that serves within the minute keeps the server', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { forked, counts, givenUp, failReplacements, stopFailing } = await serving(1);
    forked[0]?.exit(1);
    await failReplacements(30_000);
    // The replacement forked next (31 s in, after pauses of 1, 2, 4, 8 and 16 s) serves.
    stopFailing();
    await failReplacements(15_000);
    forked.at(-1)?.start();
    expect(counts.at(-1)).toBe(1);
    await vi.advanceTimersByTimeAsync(10 * NO_WORKER_SERVING_LIMIT_MS);
    expect(givenUp).toEqual([]);
  });

  it('does not give up during a drain', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { supervisor, forked, givenUp } = await serving(1);
    forked[0]?.exit(1);
    const draining = supervisor.drain();
    await vi.advanceTimersByTimeAsync(10 * NO_WORKER_SERVING_LIMIT_MS);
    await draining;
    expect(givenUp).toEqual([]);
  });

  it('does not count a worker that drains: from its word until it exits, and while all drain', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { supervisor, forked, counts } = await serving(2);
    expect(counts.at(-1)).toBe(2);
    forked[0]?.drainAlone();
    expect(counts.at(-1)).toBe(1);
    forked[0]?.exit(0);
    expect(counts.at(-1)).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    forked.at(-1)?.start();
    expect(forked).toHaveLength(3);
    expect(counts.at(-1)).toBe(2);
    const drained = supervisor.drain();
    expect(counts.at(-1)).toBe(0);
    for (const worker of forked.slice(1)) worker.exit(0);
    await drained;
  });
});
