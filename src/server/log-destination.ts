import { writeSync } from 'node:fs';

/** Every open destination, written out by the one 'exit' listener. */
const open = new Set<BatchedLogDestination>();
let exitListener = false;
/** Atomics.wait target for the short pause before retrying a full non-blocking pipe. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * The prod log's standard output: lines are kept and written together at the end of the event-loop
 * turn that produced them (setImmediate), one write(2) for every request the turn finished instead
 * of one each (a write per line cost ~5 us of the event loop; docs/performance.md).
 *
 * The writes themselves stay synchronous, so nothing is ever in flight on the thread pool: an
 * asynchronous write still queued there when the process exits is lost, and pino's flushSync skips
 * it. What is kept is written by a process 'exit' listener, which runs on every way out:
 * process.exit (a drained SIGTERM or SIGINT, a worker told to stop, a fatal start-up error), the
 * end of the event loop, and an uncaught exception.
 */
export class BatchedLogDestination {
  private lines: string[] = [];
  private scheduled = false;
  /** Set when the descriptor refuses writes (EPIPE: the reader is gone); later lines are dropped. */
  private broken = false;
  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(private readonly fd = 1) {
    open.add(this);
    if (!exitListener) {
      exitListener = true;
      process.on('exit', () => {
        for (const destination of open) destination.flushSync();
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

  /** Writes every kept line now. */
  flushSync(): void {
    if (this.lines.length === 0) return;
    const data = Buffer.from(
      this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join(''),
    );
    this.lines = [];
    let offset = 0;
    while (!this.broken && offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (error) {
        // A non-blocking pipe that is full: wait for the reader, as a blocking write would.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') Atomics.wait(PAUSE, 0, 0, 1);
        else this.broken = true;
      }
    }
  }

  /** pino's logger.flush(callback). */
  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }

  /** Writes what is kept and stops flushing this destination at exit. */
  end(): void {
    this.flushSync();
    open.delete(this);
  }
}
