import { Worker } from 'node:worker_threads';

/** Every open destination, flushed by the one 'exit' listener. */
const open = new Set<BatchedLogDestination>();
let exitListener = false;

/** Slots of the shared counters: batches handed to the writer thread, and batches it has written. */
const POSTED = 0;
const WRITTEN = 1;
/** How long an exiting process waits for a writer that cannot write (a reader that stopped reading). */
const EXIT_WAIT_MS = 10_000;

/**
 * The writer thread: writes each batch with blocking writes (retrying a full non-blocking pipe),
 * then counts it written. Plain CommonJS, evaluated as is: no file to find from src/, dist/ or a
 * bundle.
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
  Atomics.add(counters, ${WRITTEN}, 1);
  Atomics.notify(counters, ${WRITTEN});
});
`;

/**
 * The prod log's standard output. Lines are kept and handed over together at the end of the
 * event-loop turn that produced them (setImmediate): one message to a writer thread for every request
 * the turn finished, instead of one write(2) each on the event loop. The writer makes the blocking
 * writes, so a slow reader or a disk stalled in writeback holds up the log, never the requests.
 *
 * No line is lost on the way out: a process 'exit' listener, which runs on every way out
 * (process.exit after a drained SIGTERM or SIGINT, a worker told to stop, a fatal start-up error,
 * the end of the event loop, an uncaught exception), hands over what is kept and waits for the
 * writer to have written every batch (the counters are shared, so the wait needs no event loop).
 */
export class BatchedLogDestination {
  private lines: string[] = [];
  private scheduled = false;
  private readonly counters = new Int32Array(new SharedArrayBuffer(8));
  private readonly writer: Worker;
  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.handOver();
  };

  constructor(fd = 1) {
    this.writer = new Worker(WRITER, { eval: true, workerData: { fd, counters: this.counters } });
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
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endOfTurn);
    }
  }

  /** Hands the kept lines to the writer thread. */
  private handOver(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
    this.lines = [];
    // Bytes in a buffer of their own, moved to the writer rather than copied (a string is cloned).
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    bytes.write(text);
    Atomics.add(this.counters, POSTED, 1);
    this.writer.postMessage(bytes, [bytes.buffer]);
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
    void this.writer.terminate();
  }
}
