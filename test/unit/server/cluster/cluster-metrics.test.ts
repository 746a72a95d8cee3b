import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clusterMetricsSource } from '../../../../src/runtime/cluster/cluster-metrics.js';
import type { MetricsJson } from '../../../../src/runtime/cluster/messages.js';

const counter = (value: number) =>
  [
    {
      name: 'review_requests_total',
      help: 'h',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value, labels: {} }],
    },
  ] as unknown as MetricsJson;

/** How long a scrape waits for a worker, on the fake clock (beforeEach). */
const ANSWER_TIMEOUT_MS = 1_000;

/** A worker answering scrapes with its count; one that `dies` exits as it is asked instead. */
class FakeWorker extends EventEmitter {
  connected = true;
  dies = false;
  constructor(
    readonly id: number,
    public count: number,
  ) {
    super();
  }
  isConnected(): boolean {
    return this.connected;
  }
  send(message: { type: string; id: number }, callback?: (error: Error | null) => void): boolean {
    callback?.(null);
    setImmediate(() => {
      if (this.dies) {
        this.connected = false;
        this.emit('exit', null, 'SIGKILL');
        return;
      }
      this.emit('message', { type: 'tsa:metrics', id: message.id, metrics: counter(this.count) });
    });
    return true;
  }
}

function cluster(...counts: number[]) {
  const workers = counts.map((count, i) => new FakeWorker(i + 1, count));
  let listening = [...workers];
  const silent: number[] = [];
  const source = clusterMetricsSource(() => listening as unknown as Worker[], {
    onSilentWorker: (worker) => silent.push(worker.id),
    // Fake timers: the wait ends only when a test moves the clock past it, never by itself.
    answerTimeoutMs: ANSWER_TIMEOUT_MS,
  });
  const total = async () => {
    const text = await source.metrics();
    return Number(/^review_requests_total (\d+)$/m.exec(text)?.[1]);
  };
  /** The worker exits and its exit is seen: no longer listening. */
  const gone = (worker: FakeWorker | undefined) => {
    if (worker) worker.connected = false;
    listening = listening.filter((each) => each !== worker);
  };
  return { workers, source, total, gone, silent };
}

describe("the cluster's /metrics sums", () => {
  // The answer timeout is a fake timer: a scrape takes the timeout path only where a test advances
  // the clock, however slow the machine (the workers still answer on real setImmediate).
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keep the counts of a worker that exits mid-scrape, still connected when asked', async () => {
    const { workers, total } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [, b] = workers;
    if (b) b.dies = true;
    expect(await total()).toBe(15);
    expect(await total()).toBe(15);
  });

  it('count a dead worker once, whatever scrapes run at once', async () => {
    const { workers, total } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [a, b] = workers;
    if (b) b.dies = true;
    expect(await Promise.all([total(), total()])).toEqual([15, 15]);
    if (a) a.count = 11;
    expect(await total()).toBe(16);
  });

  it('count a worker once when it answers one of two scrapes at once and exits before the other', async () => {
    const { workers, total, silent } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [a, b] = workers as [FakeWorker, FakeWorker];
    const answer = (worker: FakeWorker, id: number) =>
      worker.emit('message', { type: 'tsa:metrics', id, metrics: counter(worker.count) });
    // The first scrape waits for a's late answer; b answers it, then exits as the second scrape
    // asks, so the second finishes first and retires b while the first holds b's answer.
    let askedA = 0;
    let answerLate: (() => void) | undefined;
    a.send = (message, callback) => {
      callback?.(null);
      if (++askedA === 1) answerLate = () => answer(a, message.id);
      else setImmediate(() => answer(a, message.id));
      return true;
    };
    let askedB = 0;
    b.send = (message, callback) => {
      callback?.(null);
      if (++askedB === 1) setImmediate(() => answer(b, message.id));
      else
        setImmediate(() => {
          b.connected = false;
          b.emit('exit', null, 'SIGKILL');
        });
      return true;
    };
    const first = total();
    const second = total();
    expect(await second).toBe(15);
    answerLate?.();
    expect(await first).toBe(15);
    // a answered late, not never: no scrape served its last answer in its place.
    expect(silent).toEqual([]);
    expect(await total()).toBe(15);
  });

  it('serve a worker that does not answer by its last answer, counted and told, not as gone', async () => {
    const { workers, source, total, silent } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [a, b] = workers as [FakeWorker, FakeWorker];
    // b's event loop is blocked: it takes requests and answers none.
    const answersB = b.send.bind(b);
    b.send = (_message, callback) => {
      callback?.(null);
      return true;
    };
    a.count = 11;
    // Was: every scrape failed (a 500), the primary's own series with it, while b hung.
    const scrape = source.metrics();
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS);
    const text = await scrape;
    expect(Number(/^review_requests_total (\d+)$/m.exec(text)?.[1])).toBe(16);
    expect(text).toMatch(/^timestamp_authority_cluster_worker_scrape_timeouts_total \d+$/m);
    expect(silent).toEqual([2]);
    const again = total();
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS);
    expect(await again).toBe(16);
    expect(silent).toEqual([2, 2]);
    // b answers again with what it counted meanwhile: counted once, the sum never went down.
    b.send = answersB;
    b.count = 9;
    expect(await total()).toBe(20);
  });

  it("keep a drained worker's final counts, which the last scrape did not see", async () => {
    const { workers, source, total, gone } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [, b] = workers;
    // b answers three more requests, drains, and sends its counts as it exits.
    source.finalAnswer(b as unknown as Worker, counter(8));
    gone(b);
    expect(await total()).toBe(18);
    expect(await total()).toBe(18);
  });

  it('ignore final counts that come after the worker was counted as gone', async () => {
    const { workers, source, total, gone } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [, b] = workers;
    gone(b);
    expect(await total()).toBe(15);
    source.finalAnswer(b as unknown as Worker, counter(8));
    expect(await total()).toBe(15);
  });

  it('ask each worker through one message listener, whatever scrapes wait on it at once', async () => {
    const { workers, total } = cluster(10, 5);
    const scrapes = Array.from({ length: 30 }, () => total());
    // All 30 requests are out: one listener per worker holds them all.
    for (const worker of workers) {
      expect(worker.listenerCount('message')).toBe(1);
      expect(worker.listenerCount('exit')).toBe(1);
    }
    expect(new Set(await Promise.all(scrapes))).toEqual(new Set([15]));
    expect(await total()).toBe(15);
    for (const worker of workers) expect(worker.listenerCount('message')).toBe(1);
  });

  it("hand each scrape its own request's answer, whatever order the worker answers in", async () => {
    const { workers, total } = cluster(10, 5);
    const [a] = workers as [FakeWorker];
    const asked: number[] = [];
    a.send = (message, callback) => {
      callback?.(null);
      asked.push(message.id);
      return true;
    };
    const first = total();
    const second = total();
    expect(asked).toHaveLength(2);
    const [firstId, secondId] = asked as [number, number];
    a.emit('message', { type: 'tsa:metrics', id: secondId, metrics: counter(11) });
    a.emit('message', { type: 'tsa:metrics', id: firstId, metrics: counter(10) });
    expect(await first).toBe(15);
    expect(await second).toBe(16);
  });

  it('count a worker that exits with several requests out as gone, once', async () => {
    const { workers, total } = cluster(10, 5);
    expect(await total()).toBe(15);
    const [, b] = workers as [FakeWorker, FakeWorker];
    b.send = (_message, callback) => {
      callback?.(null);
      return true;
    };
    const scrapes = [total(), total(), total()];
    b.connected = false;
    b.emit('exit', null, 'SIGKILL');
    expect(await Promise.all(scrapes)).toEqual([15, 15, 15]);
    expect(await total()).toBe(15);
  });
});
