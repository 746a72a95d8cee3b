import { Worker } from 'node:worker_threads';

/** Every open destination, flushed by the one 'exit' listener. */
const open = new Set<BatchedLogDestination>();
let exitListener = false;

/**
 * Slots of the shared counters: batches handed to the writer thread and batches it has written,
 * then the same in bytes (modulo 2^32: only their difference is read).
 */
const POSTED = 0;
const WRITTEN = 1;
const POSTED_BYTES = 2;
const WRITTEN_BYTES = 3;
/** How long an exiting process waits for a writer that cannot write (a reader that stopped reading). */
const EXIT_WAIT_MS = 10_000;

/**
 * The writer thread: writes each batch with blocking writes (retrying a full non-blocking pipe),
 * counts it written and sends its buffer back. Plain CommonJS, evaluated as is: no file to find
 * from src/, dist/ or a bundle.
 */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { fd, counters } = workerData;
const pause = new Int32Array(new SharedArrayBuffer(4));
let broken = false;
parentPort.on('message', (bytes) => {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (!broken && offset < data.length) {
    try {
      offset += writeSync(fd, data, offset);
    } catch (error) {
      if (error.code === 'EAGAIN') Atomics.wait(pause, 0, 0, 1);
      else broken = true; // EPIPE: the reader is gone; later lines are dropped
    }
  }
  Atomics.add(counters, ${WRITTEN_BYTES}, data.length);
  Atomics.add(counters, ${WRITTEN}, 1);
  Atomics.notify(counters, ${WRITTEN});
  parentPort.postMessage(bytes, [bytes.buffer]); // back, to be filled again
});
`;

/** When to hand the kept lines over: once this many bytes wait, or this long after the first. */
export interface HandOverPolicy {
  bytes: number;
  delayMs: number;
  /**
   * Bytes handed over and not yet written, at most; past that (nobody reads standard output) new
   * batches are dropped and counted instead of growing the process without bound.
   */
  maxBytesInFlight: number;
}

const DEFAULT_HAND_OVER: HandOverPolicy = {
  bytes: 64 * 1024,
  delayMs: 20,
  maxBytesInFlight: 16 * 1024 * 1024,
};

/** The line written where lines were dropped, in the log's own format. */
export type DroppedLinesNotice = (count: number) => string;

export const DROPPED_LINES_MESSAGE = 'log lines dropped: standard output was not read';

const defaultNotice: DroppedLinesNotice = (count) =>
  `${JSON.stringify({ droppedLines: count, message: DROPPED_LINES_MESSAGE })}\n`;

/** Buffers kept for reuse at most (more are in flight only while the writer is held up). */
const MAX_SPARE_BUFFERS = 4;

/**
 * The prod log's standard output. Lines are encoded into a buffer as they come and handed over
 * together to a writer thread: 20 ms after the first, or once 64 KiB wait, instead of one write(2)
 * per line on the event loop. A hand-over (a message and a thread wake-up: 35-100 us on a loaded
 * virtual machine) is shared by every line of those 20 ms, so there are at most 50 a second
 * whatever the load; a quiet server's lines still reach the output within 20 ms. The writer makes
 * the blocking writes, so a slow reader or a disk stalled in writeback holds up the log, never the
 * requests. Up to 16 MiB wait for such a reader; past that, batches are dropped, and once the
 * writer catches up a line says how many lines were lost.
 *
 * No line is lost on the way out: a process 'exit' listener, which runs on every way out
 * (process.exit after a drained SIGTERM or SIGINT, a worker told to stop, a fatal start-up error,
 * the end of the event loop, an uncaught exception), hands over what is kept and waits for the
 * writer to have written every batch (the counters are shared, so the wait needs no event loop).
 */
export class BatchedLogDestination {
  /** The kept lines' UTF-8 bytes, in a buffer of their own: it is moved to the writer, not copied. */
  private kept: Buffer;
  private keptBytes = 0;
  /**
   * Buffers the writer has sent back, filled again instead of new ones: a buffer moved to the
   * writer is freed only by the writer's garbage collector, which its few allocations rarely run,
   * so new buffers each time grew the process by tens of MB under load.
   */
  private readonly spare: Buffer[] = [];
  private keptLines = 0;
  /** Lines dropped while the writer was held up, not yet reported. */
  private droppedLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly policy: HandOverPolicy;
  private readonly counters = new Int32Array(new SharedArrayBuffer(16));
  private readonly writer: Worker;
  private readonly afterDelay = (): void => {
    this.timer = undefined;
    this.handOver();
  };

  constructor(
    fd = 1,
    policy: Partial<HandOverPolicy> = {},
    private readonly droppedNotice: DroppedLinesNotice = defaultNotice,
  ) {
    this.policy = { ...DEFAULT_HAND_OVER, ...policy };
    this.kept = Buffer.allocUnsafeSlow(2 * this.policy.bytes);
    this.writer = new Worker(WRITER, { eval: true, workerData: { fd, counters: this.counters } });
    this.writer.on('message', (returned: Uint8Array) => {
      const buffer = returned.buffer as ArrayBuffer;
      if (buffer.byteLength === this.kept.length && this.spare.length < MAX_SPARE_BUFFERS)
        this.spare.push(Buffer.from(buffer));
    });
    // The writer never keeps the process alive; the exit listener waits for it.
    this.writer.unref();
    open.add(this);
    if (!exitListener) {
      exitListener = true;
      process.on('exit', () => {
        for (const destination of open) destination.flushSync(EXIT_WAIT_MS);
      });
    }
  }

  /** pino's DestinationStream: one serialized line, newline included. */
  write(line: string): void {
    // At most 3 bytes per UTF-16 unit: a line that might not fit goes after a hand-over.
    if (this.keptBytes + 3 * line.length > this.kept.length) {
      this.handOver();
      if (3 * line.length > this.kept.length) {
        this.post(encode(line), 1);
        return;
      }
    }
    this.keptBytes += this.kept.write(line, this.keptBytes);
    this.keptLines += 1;
    if (this.keptBytes >= this.policy.bytes) this.handOver();
    // Unreferenced: kept lines never hold the process open (the exit listener writes them).
    else this.timer ??= setTimeout(this.afterDelay, this.policy.delayMs).unref();
  }

  /** Hands the kept lines to the writer thread. */
  private handOver(): void {
    if (this.keptBytes === 0) return;
    const lines = this.keptLines;
    this.keptLines = 0;
    if (this.writerHeldUp()) {
      // Dropped where they are: the buffer is filled again.
      this.droppedLines += lines;
      this.keptBytes = 0;
      return;
    }
    const batch = this.kept.subarray(0, this.keptBytes);
    this.kept = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.kept.length);
    this.keptBytes = 0;
    this.post(batch, lines);
  }

  /**
   * Hands `batch` (`lines` lines) over, or drops it while the writer is held up. `batch` views the
   * start of an ArrayBuffer of its own (never the shared Buffer pool): it is moved, not copied.
   */
  private post(batch: Buffer, lines: number): void {
    if (this.writerHeldUp()) {
      this.droppedLines += lines;
      return;
    }
    if (this.droppedLines > 0) {
      const notice = encode(this.droppedNotice(this.droppedLines));
      this.droppedLines = 0;
      this.transfer(notice);
    }
    this.transfer(batch);
  }

  private transfer(batch: Buffer): void {
    Atomics.add(this.counters, POSTED_BYTES, batch.length);
    Atomics.add(this.counters, POSTED, 1);
    this.writer.postMessage(batch, [batch.buffer as ArrayBuffer]);
  }

  /** Batches handed over that the writer has not written yet. */
  pendingBatches(): number {
    return Atomics.load(this.counters, POSTED) - Atomics.load(this.counters, WRITTEN);
  }

  private writerHeldUp(): boolean {
    const pendingBytes =
      (Atomics.load(this.counters, POSTED_BYTES) - Atomics.load(this.counters, WRITTEN_BYTES)) | 0;
    return pendingBytes >= this.policy.maxBytesInFlight;
  }

  /** Hands over what is kept and blocks until every line is written (or `timeoutMs` passed). */
  flushSync(timeoutMs = EXIT_WAIT_MS): void {
    this.handOver();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const written = Atomics.load(this.counters, WRITTEN);
      const remaining = deadline - Date.now();
      if (written >= Atomics.load(this.counters, POSTED) || remaining <= 0) return;
      Atomics.wait(this.counters, WRITTEN, written, remaining);
    }
  }

  /** pino's logger.flush(callback). */
  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }

  /** Writes what is kept and stops the writer thread. */
  end(): void {
    this.flushSync();
    open.delete(this);
    clearTimeout(this.timer);
    void this.writer.terminate();
  }
}

/** A string's UTF-8 bytes in an ArrayBuffer of their own (transferable). */
function encode(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}
