import { Worker } from 'node:worker_threads';
import { CodedError } from '../../errors.js';
import {
  fromWireError,
  type CheckAnswer,
  type CheckBatch,
  type CheckWorkerData,
  type TokenOutcome,
  type WireOutcome,
} from './token-check.js';

/**
 * log-audit's token checks on worker threads (token-check-worker.ts). Entries go out in batches, to
 * the worker with the fewest batches outstanding (workers start as batches need them, up to `jobs`);
 * their outcomes come back in any order and are handed to `take` in entry order, so that the audit
 * stops at the same entry, with the same message, as when it checks the tokens one by one. At most
 * `window` batches are out or unconsumed at a time: what is held does not grow with the log.
 */

/**
 * A failure of the pool rather than a verdict on a token: a worker died or misbehaved
 * ('WORKER_FAILED'), or a check threw what no check should ('CHECK_FAILED', a bug).
 */
export class TokenCheckPoolError extends CodedError<'WORKER_FAILED' | 'CHECK_FAILED'> {
  override name = 'TokenCheckPoolError';
}

export interface TokenCheckPoolOptions {
  /** the most worker threads */
  jobs: number;
  /** entries a batch holds at most */
  batchSize: number;
  /** DER certificates, root last (--chain), or undefined */
  chain: readonly Uint8Array[] | undefined;
  /**
   * Takes entry `index`'s outcome, called in entry order; what it throws ends the pool's work and
   * is thrown again by every later submit and settle. An error a check threw that is not a verdict
   * on the token (a bug) is not handed over: it ends the pool's work as a 'CHECK_FAILED'.
   */
  take: (index: number, outcome: TokenOutcome) => void;
  /** the worker module; by default token-check-worker's (tests give others) */
  worker?: WorkerModule;
}

/** A worker thread's module, or the code that imports it. */
export type WorkerModule = { url: URL } | { eval: string };

interface Batch {
  id: number;
  first: number;
  count: number;
  worker?: PoolWorker;
  /** set once answered, or failed with the pool's error */
  outcomes?: WireOutcome[];
  failure?: TokenCheckPoolError;
}

interface PoolWorker {
  thread: Worker;
  /** batches sent and not answered */
  outstanding: Set<Batch>;
  /** why it cannot take batches any more */
  failure?: TokenCheckPoolError;
}

/**
 * The worker module next to this one: token-check-worker.js when running the compiled JS. When
 * this module is itself TS (vitest, tsx) the worker is the .ts source, imported through tsx's
 * tsImport from a bootstrap: Node 20 ignores a loader given in a Worker's execArgv
 * (`--import tsx` still fails with ERR_UNKNOWN_FILE_EXTENSION there, nodejs/node#47747).
 */
export function defaultWorker(): WorkerModule {
  if (!import.meta.url.endsWith('.ts'))
    return { url: new URL('./token-check-worker.js', import.meta.url) };
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL('./token-check-worker.ts', import.meta.url).href;
  return {
    eval: `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(worker)}, ${JSON.stringify(import.meta.url)}));`,
  };
}

export class TokenCheckPool {
  private readonly workers: PoolWorker[] = [];
  /** batches sent and not yet consumed, by id; consumed in id order */
  private readonly batches = new Map<number, Batch>();
  private nextId = 0;
  private nextToConsume = 0;
  /** the entries of the batch being filled */
  private pending: Uint8Array[] = [];
  private pendingFirst = 0;
  private readonly window: number;
  /** wakes the consumer waiting for a batch's outcomes */
  private wake: (() => void) | undefined;
  /** what ended the pool's work: thrown again by every later call */
  private failed: { error: unknown } | undefined;
  private closed = false;
  private readonly worker: WorkerModule;

  constructor(private readonly options: TokenCheckPoolOptions) {
    this.window = 3 * options.jobs;
    this.worker = options.worker ?? defaultWorker();
  }

  /** Queues entry `index` (the next in order) for its check. */
  async submit(entry: Uint8Array, index: number): Promise<void> {
    this.throwIfFailed();
    if (this.pending.length === 0) this.pendingFirst = index;
    this.pending.push(entry);
    if (this.pending.length >= this.options.batchSize) await this.flush();
  }

  /** Sends the entries queued so far, once fewer than `window` batches are held. */
  async flush(): Promise<void> {
    this.throwIfFailed();
    this.consumeReady();
    if (this.pending.length === 0) return;
    while (this.batches.size >= this.window) await this.consumeNext();
    const entries = this.pending;
    this.pending = [];
    this.send(entries, this.pendingFirst);
    this.consumeReady();
  }

  /** Waits for every entry submitted so far to be checked and taken. */
  async settle(): Promise<void> {
    await this.flush();
    while (this.batches.size > 0) await this.consumeNext();
  }

  /** Ends every worker; the pool takes no more work. */
  async close(): Promise<void> {
    this.closed = true;
    this.failed ??= {
      error: new TokenCheckPoolError('WORKER_FAILED', 'the token-check pool is closed'),
    };
    await Promise.all(this.workers.map(({ thread }) => thread.terminate()));
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed.error;
  }

  private send(entries: Uint8Array[], first: number): void {
    const ends = new Uint32Array(entries.length);
    let size = 0;
    for (const [i, entry] of entries.entries()) ends[i] = size += entry.length;
    const bytes = new Uint8Array(size);
    for (const [i, entry] of entries.entries()) bytes.set(entry, ends[i]! - entry.length);
    const batch: Batch = { id: this.nextId++, first, count: entries.length };
    this.batches.set(batch.id, batch);
    const worker = this.pickWorker();
    if (worker.failure) {
      batch.failure = worker.failure;
      return;
    }
    batch.worker = worker;
    worker.outstanding.add(batch);
    const message: CheckBatch = { id: batch.id, first, bytes, ends };
    worker.thread.postMessage(message, [bytes.buffer, ends.buffer]);
  }

  /** An idle worker, a new one while fewer than `jobs` run, else the least busy. */
  private pickWorker(): PoolWorker {
    const live = this.workers.filter((worker) => !worker.failure);
    const idle = live.find((worker) => worker.outstanding.size === 0);
    if (idle) return idle;
    if (this.workers.length < this.options.jobs) return this.startWorker();
    const [least] = live.sort((a, b) => a.outstanding.size - b.outstanding.size);
    // All died: the batch fails with the first one's error.
    return least ?? this.workers[0]!;
  }

  private startWorker(): PoolWorker {
    const workerData: CheckWorkerData = {
      chain: this.options.chain?.map((der) => Uint8Array.from(der)),
    };
    const thread =
      'url' in this.worker
        ? new Worker(this.worker.url, { workerData })
        : new Worker(this.worker.eval, { workerData, eval: true });
    const worker: PoolWorker = { thread, outstanding: new Set() };
    this.workers.push(worker);
    thread.on('message', (answer: unknown) => this.answered(worker, answer));
    thread.on('messageerror', (error) =>
      this.fail(worker, `its answer could not be read (${error.message})`),
    );
    thread.on('error', (error) => this.fail(worker, `it failed: ${errorText(error)}`));
    thread.on('exit', (code) => this.fail(worker, `it exited with code ${code}`));
    return worker;
  }

  private answered(worker: PoolWorker, answer: unknown): void {
    const { id, outcomes } = (answer ?? {}) as Partial<CheckAnswer>;
    const batch = typeof id === 'number' ? this.batches.get(id) : undefined;
    if (!batch || batch.worker !== worker || !worker.outstanding.has(batch)) {
      this.fail(worker, `it answered a batch it was not checking (${String(id)})`);
      return;
    }
    const problem = answerProblem(outcomes, batch.count);
    if (problem) {
      this.fail(worker, `its answer for entries ${entryRange(batch)} ${problem}`);
      return;
    }
    worker.outstanding.delete(batch);
    batch.outcomes = outcomes!;
    this.wakeConsumer();
  }

  /** Fails what `worker` holds and every batch it would be given; its thread is ended. */
  private fail(worker: PoolWorker, why: string): void {
    if (!worker.failure) {
      const held = [...worker.outstanding];
      const what =
        held.length > 0
          ? ` while checking entries ${held.map(entryRange).join(', ')}`
          : ' with no entries to check';
      worker.failure = new TokenCheckPoolError(
        'WORKER_FAILED',
        `a token-check worker thread stopped${what}: ${this.closed ? 'the pool was closed' : why}`,
      );
      // A thread that misbehaved but runs is not left running (terminate after exit is a no-op).
      if (!this.closed) void worker.thread.terminate();
    }
    for (const batch of worker.outstanding) batch.failure = worker.failure;
    worker.outstanding.clear();
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Takes the outcomes of the batches that are next in order and answered. */
  private consumeReady(): void {
    for (;;) {
      const batch = this.batches.get(this.nextToConsume);
      if (!batch || (!batch.outcomes && !batch.failure)) return;
      this.consume(batch);
    }
  }

  /** Waits for the next batch in order and takes its outcomes. */
  private async consumeNext(): Promise<void> {
    const batch = this.batches.get(this.nextToConsume)!;
    while (!batch.outcomes && !batch.failure)
      await new Promise<void>((resolve) => (this.wake = resolve));
    this.consume(batch);
  }

  private consume(batch: Batch): void {
    this.batches.delete(batch.id);
    this.nextToConsume++;
    try {
      if (batch.failure) throw batch.failure;
      for (const [i, outcome] of batch.outcomes!.entries()) {
        const index = batch.first + i;
        if ('verdict' in outcome) {
          this.options.take(index, outcome);
          continue;
        }
        const error = fromWireError(outcome.error);
        if (!error)
          throw new TokenCheckPoolError(
            'CHECK_FAILED',
            `entry ${index}: the token check failed unexpectedly in a worker thread: ${outcome.error.message}`,
          );
        this.options.take(index, { error });
      }
    } catch (error) {
      this.failed ??= { error };
      throw error;
    }
  }
}

/** Why `outcomes` is not an answer for a batch of `count` entries, or undefined. */
function answerProblem(outcomes: unknown, count: number): string | undefined {
  if (!Array.isArray(outcomes)) return 'holds no outcomes';
  if (!outcomes.every(isOutcome)) return 'holds something other than outcomes';
  const failedAt = outcomes.findIndex((outcome) => 'error' in outcome);
  // Up to the first failure, or all of them.
  const complete = failedAt === -1 ? outcomes.length === count : failedAt === outcomes.length - 1;
  return complete ? undefined : `has ${outcomes.length} outcomes for ${count} entries`;
}

function isOutcome(value: unknown): value is WireOutcome {
  const { verdict, error } = (value ?? {}) as { verdict?: unknown; error?: unknown };
  if (verdict !== undefined) {
    const { serial, unchecked } = (verdict ?? {}) as { serial?: unknown; unchecked?: unknown };
    return typeof serial === 'bigint' && typeof unchecked === 'boolean';
  }
  const { kind, code, message } = (error ?? {}) as {
    kind?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (typeof message !== 'string') return false;
  if (kind === 'other') return true;
  return (kind === 'verification' || kind === 'cli') && typeof code === 'string';
}

function entryRange(batch: Batch): string {
  return batch.count === 1 ? `${batch.first}` : `${batch.first}-${batch.first + batch.count - 1}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
