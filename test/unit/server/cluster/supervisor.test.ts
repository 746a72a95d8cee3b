import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WORKER_SLOT_VARIABLE } from '../../../../src/runtime/cluster/messages.js';
import { createWorkerSupervisor } from '../../../../src/runtime/cluster/supervisor.js';
import { auditPathForSlot } from '../../../../src/server/audit-log.js';

/** A worker process as the supervisor sees it: events, an id, a pid. */
class FakeWorker extends EventEmitter {
  readonly process: { pid: number; kill: () => boolean };
  constructor(readonly id: number) {
    super();
    this.process = { pid: 4000 + id, kill: () => true };
  }
  send(): boolean {
    return true;
  }
  isDead(): boolean {
    return false;
  }
  isConnected(): boolean {
    return true;
  }
  serve(): void {
    this.emit('message', { type: 'tsa:serving', url: `http://127.0.0.1:${3000 + this.id}` });
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
      await vi.advanceTimersByTimeAsync(1_000); // ...and is tried again
      forked[1]?.serve();
      await vi.advanceTimersByTimeAsync(0);
      // Let a rejection left unhandled by the throwing fork surface.
      await new Promise((resolve) => setImmediate(resolve));

      expect(unhandled).toEqual([]);
      expect(lines).toContainEqual({
        level: 'error',
        message: expect.stringContaining('cannot start a replacement worker: spawn EAGAIN'),
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
