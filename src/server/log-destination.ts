import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Every open destination, flushed by the one 'exit' listener. */
const open = new Set<BatchedLogDestination>();
let exitListener = false;

/**
 * Slots of the shared counters: batches handed to the writer thread and batches it has written,
 * the memory of those batches (their buffers' sizes) handed over and given back, a flag that
 * tells a writer that cannot write to give up (the process is exiting), and the lines the writer
 * could not write (a write error), not yet taken for a notice. Counts wrap at 2^32: only
 * differences are read.
 */
const POSTED = 0;
const WRITTEN = 1;
const POSTED_BYTES = 2;
const WRITTEN_BYTES = 3;
const GIVE_UP = 4;
const LOST_LINES = 5;
const COUNTERS = 6;
/** How long an exiting process waits for a writer that cannot write (a reader that stopped reading). */
export const EXIT_WAIT_MS = 10_000;

/**
 * The writer thread: writes each batch to `out`, counts it written and sends its buffer back. A
 * full non-blocking pipe (see outputDescriptor) is retried every millisecond, so that the thread
 * can always be stopped: a thread blocked in write(2) would hold the process's exit forever.
 * Any other write error (ENOSPC, EIO, EFBIG: a full or failing disk) drops the rest of that batch
 * only: its lines (or, for a notice, the count it carried) are added to LOST_LINES for the main
 * thread to report, and the next batch is tried, on a new line. Only EPIPE (no reader left) stops
 * the writing for good. The first error is sent to the main thread, to be said on standard error.
 * With a LineFormat, the writer formats each line before writing it (the dev log's pino-pretty),
 * so that the formatting costs the event loop nothing.
 * Plain CommonJS, evaluated as is: no file to find from src/, dist/ or a bundle.
 */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { out, counters, format } = workerData;
const pause = new Int32Array(new SharedArrayBuffer(4));
const NEWLINE = Buffer.from('\\n');
const formatLine = format ? require(format.module)[format.factory](format.options) : undefined;
let broken = false;
let reported = false;
let midLine = false; // a failed write ended inside a line: what follows starts on a new one
// Each line formatted (formatLine), and where each one's text ends in the formatted bytes.
function formatted(data) {
  const text = data.toString('utf8');
  let output = '';
  const ends = [];
  let length = 0;
  for (let start = 0, end = text.indexOf('\\n'); end !== -1; start = end + 1, end = text.indexOf('\\n', start)) {
    let line;
    try {
      line = formatLine(text.slice(start, end));
    } catch {}
    // As it came where the format fails: a line is never lost to its formatting.
    if (typeof line !== 'string') line = text.slice(start, end + 1);
    output += line;
    length += Buffer.byteLength(line);
    ends.push(length);
  }
  return { data: Buffer.from(output), ends };
}
// How many lines were not (wholly) written: those ending at or past \`offset\`, the newline that
// starts \`data\` after a cut line (\`prefix\` 1) not counted.
function unwritten(data, ends, offset, prefix) {
  let count = 0;
  if (ends) {
    for (const end of ends) if (end + prefix > offset) count += 1;
    return count;
  }
  for (let i = data.indexOf(10, Math.max(offset, prefix)); i !== -1; i = data.indexOf(10, i + 1)) count += 1;
  return count;
}
parentPort.on('message', ({ bytes, notice }) => {
  let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let ends;
  if (formatLine) ({ data, ends } = formatted(data));
  const prefix = midLine ? 1 : 0;
  if (prefix) data = Buffer.concat([NEWLINE, data]);
  let offset = 0;
  while (!broken && offset < data.length) {
    try {
      offset += writeSync(out, data, offset);
    } catch (error) {
      if (error.code === 'EAGAIN') {
        if (Atomics.load(counters, ${GIVE_UP}) === 1) break;
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (error.code === 'EPIPE') broken = true; // the reader is gone; later lines are dropped
      const lost = notice > 0 ? notice : unwritten(data, ends, offset, prefix);
      Atomics.add(counters, ${LOST_LINES}, lost);
      if (!reported) {
        reported = true;
        parentPort.postMessage({ failed: String(error.code ?? error.message) });
      }
      break;
    }
  }
  if (offset > 0) midLine = data[offset - 1] !== 10;
  Atomics.add(counters, ${WRITTEN_BYTES}, bytes.buffer.byteLength);
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
   * Memory of the batches handed over and not yet written, at most; past that (nobody reads
   * standard output) new batches are dropped and counted instead of growing the process.
   */
  maxBytesInFlight: number;
  /** How long an exiting process waits for the writer. */
  exitWaitMs: number;
}

const DEFAULT_HAND_OVER: HandOverPolicy = {
  bytes: 64 * 1024,
  delayMs: 20,
  maxBytesInFlight: 16 * 1024 * 1024,
  exitWaitMs: EXIT_WAIT_MS,
};

/**
 * How the writer thread turns each line (without its newline) into the text written, newline
 * included: `require(module)[factory](options)` made once in the thread. A line it throws on is
 * written as it came, as are all lines once the thread is gone (JSON lines: still every line).
 */
export interface LineFormat {
  /** A resolved path (the thread's `require` has no package of its own to resolve from). */
  module: string;
  factory: string;
  /** Structured-cloned into the thread. */
  options: Record<string, unknown>;
}

/** The line written where lines were dropped, in the log's own format. */
export type DroppedLinesNotice = (count: number) => string;

export const DROPPED_LINES_MESSAGE =
  'log lines dropped: standard output was not read or could not be written';

const defaultNotice: DroppedLinesNotice = (count) =>
  `${JSON.stringify({ droppedLines: count, message: DROPPED_LINES_MESSAGE })}\n`;

/** Buffers kept for reuse at most (more are in flight only while the writer is held up). */
const MAX_SPARE_BUFFERS = 4;

/**
 * The prod log's standard output. Lines are encoded into a buffer as they come and handed over
 * together to a writer thread: 20 ms after the first, or once 64 KiB wait, instead of one write(2)
 * per line on the event loop. A hand-over (a message and a thread wake-up: 35-100 us on a loaded
 * virtual machine) is shared by every line of those 20 ms, so there are at most 50 a second
 * whatever the load; a quiet server's lines still reach the output within 20 ms. The writer does
 * the writing (and the waiting on a full pipe), so a slow reader or a disk stalled in writeback
 * holds up the log, never the requests. Up to 16 MiB wait for such a reader; past that, batches
 * are dropped, and once the writer catches up a line says how many lines were lost.
 *
 * No line is lost on the way out: a process 'exit' listener, which runs on every way out
 * (process.exit after a drained SIGTERM or SIGINT, a worker told to stop, a fatal start-up error,
 * the end of the event loop, an uncaught exception), hands over what is kept and waits for the
 * writer to have written every batch (the counters are shared, so the wait needs no event loop).
 * A reader that has stopped reading gets 10 s; then the writer gives up and the process exits.
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
  private dropping = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly policy: HandOverPolicy;
  private readonly counters = new Int32Array(new SharedArrayBuffer(4 * COUNTERS));
  private readonly writer: Worker;
  /**
   * Set once the writer thread is gone although the destination is open (it could not start, or
   * it died): lines are then written here, at each hand-over, on the event loop, unformatted.
   */
  private writerGone = false;
  /** Where lines are written, by the writer thread or, once it is gone, here (outputDescriptor). */
  private readonly out: number;
  /** Whether `out` was opened here (a pipe's non-blocking descriptor), to be closed at the end. */
  private readonly ownsOut: boolean;
  private ended = false;
  /** WRITTEN when a flush last ran out of time with batches pending (see flushSync). */
  private stuckAt: number | undefined;
  private readonly afterDelay = (): void => {
    this.timer = undefined;
    this.handOver();
  };

  constructor(
    fd = 1,
    policy: Partial<HandOverPolicy> = {},
    private readonly droppedNotice: DroppedLinesNotice = defaultNotice,
    format?: LineFormat,
  ) {
    this.out = outputDescriptor(fd);
    this.ownsOut = this.out !== fd;
    this.policy = { ...DEFAULT_HAND_OVER, ...policy };
    this.kept = Buffer.allocUnsafeSlow(2 * this.policy.bytes);
    this.writer = new Worker(WRITER, {
      eval: true,
      workerData: { out: this.out, counters: this.counters, format },
    });
    this.writer.on('message', (returned: Uint8Array | { failed: string }) => {
      if (returned instanceof Uint8Array) this.takeBack(returned.buffer);
      else this.writeFailed(fd, returned.failed);
    });
    // A thread that cannot be made (a process or memory limit) or that died must not take the
    // server down with it (an 'error' event without a listener is thrown) nor lose what follows.
    this.writer.on('error', (error: Error) => this.writerDied(error.message));
    this.writer.on('exit', (code: number) => this.writerDied(`exit code ${code}`));
    // The writer never keeps the process alive; the exit listener waits for it.
    this.writer.unref();
    open.add(this);
    if (!exitListener) {
      exitListener = true;
      process.on('exit', () => {
        for (const destination of open) destination.flushForExit();
      });
    }
  }

  /**
   * From now on, lines are written here. Batches the writer had not written are lost; the
   * warning (on standard error, which the log may not reach) says why lines may be missing.
   */
  private writerDied(reason: string): void {
    if (this.ended || this.writerGone) return;
    this.writerGone = true;
    process.emitWarning(
      `the log writer thread stopped (${reason}): log lines are written on the main thread`,
    );
  }

  /**
   * Said once, on standard error: the lines the writer cannot write are counted in the next
   * notice, which the log itself shows only once writing works again (a disk with space again).
   */
  private writeFailed(fd: number, code: string): void {
    if (this.ended) return;
    const output = fd === 1 ? 'standard output' : `descriptor ${fd}`;
    process.emitWarning(
      `the log could not be written to ${output} (${code}): ` +
        (code === 'EPIPE'
          ? 'nothing reads it, later log lines are dropped'
          : 'log lines are dropped and counted until it can be written again'),
    );
  }

  /** pino's DestinationStream: one serialized line, newline included. */
  write(line: string): void {
    // At most 3 bytes per UTF-16 unit: a line that might not fit goes after a hand-over.
    if (this.keptBytes + 3 * line.length > this.kept.length) {
      this.handOver();
      if (3 * line.length > this.kept.length) {
        this.postLarge(line);
        return;
      }
    }
    this.keptBytes += this.kept.write(line, this.keptBytes);
    this.keptLines += 1;
    if (this.keptBytes >= this.policy.bytes) this.handOver();
    // Unreferenced: kept lines never hold the process open (the exit listener writes them).
    else this.timer ??= setTimeout(this.afterDelay, this.policy.delayMs).unref();
  }

  /**
   * Hands the kept lines to the writer thread, with the count of lines dropped before them if any;
   * while the writer is held up they are dropped and counted instead, unless `always` (a flush).
   */
  private handOver(always = false): void {
    this.takeLost();
    if (this.keptBytes === 0 && this.droppedLines === 0) return;
    const lines = this.keptLines;
    this.keptLines = 0;
    if (!always && this.writerHeldUp()) {
      // Dropped where they are: the buffer is filled again.
      this.droppedLines += lines;
      this.keptBytes = 0;
      return;
    }
    this.reportDropped();
    if (this.keptBytes === 0) return;
    const spare = this.spare.pop();
    let batch: Buffer;
    if (spare || this.keptBytes >= this.kept.length / 4) {
      batch = this.kept.subarray(0, this.keptBytes);
      this.kept = spare ?? Buffer.allocUnsafeSlow(this.kept.length);
    } else {
      // No buffer came back (the writer is behind): a few lines move in a buffer of their size.
      batch = Buffer.allocUnsafeSlow(this.keptBytes);
      this.kept.copy(batch, 0, 0, this.keptBytes);
    }
    this.keptBytes = 0;
    this.transfer(batch);
  }

  /** A line larger than the buffer, in a buffer of its own. */
  private postLarge(line: string): void {
    if (this.writerHeldUp()) {
      this.droppedLines += 1;
      return;
    }
    this.reportDropped();
    this.transfer(encode(line));
  }

  /** Lines the writer could not write are counted with those dropped here. */
  private takeLost(): void {
    this.droppedLines += Atomics.exchange(this.counters, LOST_LINES, 0);
  }

  private reportDropped(): void {
    this.takeLost();
    if (this.droppedLines === 0) return;
    const count = this.droppedLines;
    this.droppedLines = 0;
    this.transfer(encode(this.droppedNotice(count)), count);
  }

  /**
   * Moves `batch`, which views the start of an ArrayBuffer of its own, to the writer. A notice
   * carries its count: if it cannot be written, those lines are still to be reported.
   */
  private transfer(batch: Buffer, notice = 0): void {
    if (this.writerGone) {
      const lost = writeHere(this.out, batch);
      if (lost > 0) this.droppedLines += notice > 0 ? notice : lost;
      this.takeBack(batch.buffer);
      return;
    }
    const buffer = batch.buffer as ArrayBuffer;
    Atomics.add(this.counters, POSTED_BYTES, buffer.byteLength);
    Atomics.add(this.counters, POSTED, 1);
    this.writer.postMessage({ bytes: batch, notice }, [buffer]);
  }

  /** A written batch's buffer, kept to be filled again if it is a whole one. */
  private takeBack(buffer: ArrayBufferLike): void {
    if (buffer.byteLength === this.kept.length && this.spare.length < MAX_SPARE_BUFFERS)
      this.spare.push(Buffer.from(buffer));
  }

  /** Batches handed over that the writer has not written yet. */
  pendingBatches(): number {
    return (Atomics.load(this.counters, POSTED) - Atomics.load(this.counters, WRITTEN)) | 0;
  }

  /**
   * Whether the writer is too far behind to take more. Once it is, it must have caught up to half
   * the bound before batches are taken again: a reader just too slow gets one gap and one notice
   * per stretch, not one per batch.
   */
  private writerHeldUp(): boolean {
    if (this.writerGone) return false;
    const pendingBytes =
      (Atomics.load(this.counters, POSTED_BYTES) - Atomics.load(this.counters, WRITTEN_BYTES)) | 0;
    const limit = this.policy.maxBytesInFlight;
    this.dropping = pendingBytes >= (this.dropping ? limit / 2 : limit);
    return this.dropping;
  }

  /**
   * Hands over what is kept and blocks until every line is written (or `timeoutMs` passed). Lines
   * the writer failed to write meanwhile get their notice handed over too, once: one that failed
   * as well waits for the next lines.
   */
  flushSync(timeoutMs = this.policy.exitWaitMs): void {
    // A writer that has written nothing since a flush waited for it in vain is still stuck: the
    // exit path's flushes (logger.flush, then the exit listener's) wait for it once, not each.
    const stuck =
      this.stuckAt !== undefined && Atomics.load(this.counters, WRITTEN) === this.stuckAt;
    const deadline = Date.now() + (stuck ? 0 : timeoutMs);
    for (let round = 0; round < 2; round++) {
      this.handOver(true);
      if (this.writerGone) return;
      for (;;) {
        const written = Atomics.load(this.counters, WRITTEN);
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          if (this.pendingBatches() > 0) this.stuckAt = written;
          return;
        }
        if (this.pendingBatches() <= 0) break;
        Atomics.wait(this.counters, WRITTEN, written, remaining);
      }
      if (Atomics.load(this.counters, LOST_LINES) === 0) return;
    }
  }

  /** The exit listener's flush: then a writer that still cannot write gives up, so the process ends. */
  private flushForExit(): void {
    this.flushSync();
    Atomics.store(this.counters, GIVE_UP, 1);
  }

  /** pino's logger.flush(callback). */
  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }

  /** Writes what is kept and stops the writer thread. */
  end(): void {
    this.flushSync();
    this.ended = true;
    open.delete(this);
    clearTimeout(this.timer);
    this.timer = undefined;
    Atomics.store(this.counters, GIVE_UP, 1);
    // A descriptor of our own is closed once the writer can no longer be writing to it.
    void this.writer.terminate().then(() => {
      if (this.ownsOut) closeSync(this.out);
    });
  }
}

/**
 * Writes `batch` on this thread, once the writer thread is gone. `out` is non-blocking for a pipe,
 * so a reader that stopped reading cannot block the event loop: what it cannot take now is dropped.
 * Returns how many lines were (partly) not written.
 */
function writeHere(out: number, batch: Buffer): number {
  let offset = 0;
  try {
    while (offset < batch.length) offset += writeSync(out, batch, offset);
  } catch {
    // EAGAIN (the reader is behind), EPIPE (it is gone), ENOSPC...: the rest is dropped, counted.
  }
  let lost = 0;
  for (let i = batch.indexOf(10, offset); i !== -1; i = batch.indexOf(10, i + 1)) lost += 1;
  return lost;
}

/**
 * The descriptor lines are written to, where a reader that stopped reading cannot block write(2):
 * for a pipe or FIFO a non-blocking descriptor of its own, opened again through /proc; for a
 * socket (systemd's journal, a parent's stdio 'pipe'), which /proc cannot open again, `fd` made
 * non-blocking. A thread blocked in write(2) is one the process waits for at exit, forever.
 */
function outputDescriptor(fd: number): number {
  try {
    const stat = fstatSync(fd);
    if (stat.isFIFO())
      return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    if (stat.isSocket()) makeStdioNonBlocking(fd);
  } catch {
    // no /proc: blocking writes
  }
  return fd;
}

/**
 * Node has no fcntl(2). Opening standard output or error as a stream (the first read of
 * `process.stdout`) has libuv set O_NONBLOCK on the socket, and `setBlocking(false)` undoes a
 * `setBlocking(true)` made since (the set-blocking package's call, which reaches the same handle).
 * Node's own writes to the stream already handle EAGAIN. Another descriptor is used as it is.
 */
function makeStdioNonBlocking(fd: number): void {
  const stream = fd === 1 ? process.stdout : fd === 2 ? process.stderr : undefined;
  (stream as StdioStream | undefined)?._handle?.setBlocking?.(false);
}

/** The libuv handle behind `process.stdout` and `process.stderr`, not in Node's types. */
interface StdioStream {
  _handle?: { setBlocking?: (blocking: boolean) => number };
}

/** A string's UTF-8 bytes in an ArrayBuffer of their own (transferable). */
function encode(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}
