/**
 * The prod log's destination keeps lines until enough bytes wait or a short delay has passed, and
 * has a writer thread write them; nothing is lost on any way out of the process, an uncaught
 * exception included.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  BatchedLogDestination,
  DROPPED_LINES_MESSAGE,
} from '../../../src/server/log-destination.js';
import { createLogger, isoTime } from '../../../src/server/logger.js';
import { pino } from 'pino';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment, runToEnd } from '../../helpers/process.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { REPO_ROOT, TSX_LOADER } from '../../helpers/spawn-server.js';

/** How long flushSync waits for the writer thread at most: a busy machine is slow, never wrong. */
const WAIT = 60_000;

const dir = tempDir();
afterAll(() => dir.cleanup());

const LOGGER = pathToFileURL(join(REPO_ROOT, 'src', 'server', 'logger.ts')).href;

/** Runs a module that logs through createLogger('prod'); resolves with its exit code and stdout. */
async function runScript(body: string): Promise<{ code: number | null; lines: string[] }> {
  const script = dir.write(
    `script-${Math.random().toString(36).slice(2)}.ts`,
    `import { createLogger } from '${LOGGER}';\nconst logger = createLogger('prod', 'info');\n${body}\n`,
  );
  const run = await runToEnd(process.execPath, ['--import', TSX_LOADER, script]);
  return { code: run.status, lines: run.stdout.split('\n').filter((line) => line !== '') };
}

describe('BatchedLogDestination', () => {
  it('hands kept lines over after the delay, in order', async () => {
    const path = dir.path('delay.log');
    const fd = openSync(path, 'w');
    const destination = new BatchedLogDestination(fd);
    const logger = createLogger('prod', 'info', destination);
    for (let i = 0; i < 100; i++) logger.info({ i }, 'line');
    expect(readFileSync(path, 'utf8')).toBe('');
    // Written by the writer thread once the delay has passed; wait for it without flushing.
    await expect
      .poll(() => readFileSync(path, 'utf8').split('\n'), UNTIL_SETTLED)
      .toHaveLength(101);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    // The JSON shape of the prod log is unchanged.
    expect(JSON.parse(lines[0] as string)).toMatchObject({ severity: 'INFO', message: 'line' });
    destination.end();
    closeSync(fd);
  });

  it('hands over at once when enough bytes wait; the rest waits for the delay', async () => {
    const path = dir.path('size.log');
    const fd = openSync(path, 'w');
    // A delay that never passes in this test: only the size hands lines over.
    const destination = new BatchedLogDestination(fd, { bytes: 1000, delayMs: 3_600_000 });
    const line = `${JSON.stringify({ text: 'x'.repeat(90) })}\n`; // 103 bytes
    for (let i = 0; i < 25; i++) destination.write(line);
    // 10 lines reach 1,030 bytes: two batches of 10 are handed over, 5 lines are kept.
    await expect.poll(() => readFileSync(path, 'utf8'), UNTIL_SETTLED).toBe(line.repeat(20));
    destination.flushSync();
    expect(readFileSync(path, 'utf8')).toBe(line.repeat(25));
    destination.end();
    closeSync(fd);
  });

  it('writes multi-byte characters and a line larger than its buffer whole, in order', () => {
    const path = dir.path('large.log');
    const fd = openSync(path, 'w');
    const destination = new BatchedLogDestination(fd, { bytes: 100, delayMs: 3_600_000 });
    const lines = ['é€😀 small\n', `${'ü'.repeat(500)}\n`, 'after\n'];
    for (const line of lines) destination.write(line);
    destination.flushSync();
    expect(readFileSync(path, 'utf8')).toBe(lines.join(''));
    destination.end();
    closeSync(fd);
  });

  it('drops and counts lines while nobody reads, then says how many where they went missing', async () => {
    // A FIFO whose reader reads only when the test says: the writer blocks once it is full (64 KiB).
    const path = dir.path('stalled.fifo');
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(path, constants.O_WRONLY);
    const destination = new BatchedLogDestination(fd, {
      bytes: 1000,
      delayMs: 3_600_000,
      maxBytesInFlight: 4000,
    });
    let received = '';
    const chunk = Buffer.alloc(65536);
    const drain = () => {
      for (;;) {
        try {
          const n = readSync(reader, chunk);
          if (n === 0) return;
          received += chunk.toString('utf8', 0, n);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return;
          throw error;
        }
      }
    };
    const line = (i: number) => `${JSON.stringify({ i, text: 'x'.repeat(80) })}\n`;
    // 2 MB while nothing is read: the pipe takes 64 KiB, 4,000 bytes may wait, the rest is dropped.
    const flood = 20_000;
    for (let i = 0; i < flood; i++) destination.write(line(i));
    await expect
      .poll(() => {
        drain();
        return destination.pendingBatches();
      }, UNTIL_SETTLED)
      .toBe(0);
    // The flood's last batch was dropped (20,000 lines make whole batches): a flush with nothing
    // kept still writes the count.
    destination.flushSync();
    drain();
    const entries = () =>
      received
        .trim()
        .split('\n')
        .map((text) => JSON.parse(text) as Record<string, unknown>);
    // Every line is written, in order, or counted by a notice standing where it went missing.
    let expected = 0;
    let notices = 0;
    for (const entry of entries()) {
      if (entry['message'] === DROPPED_LINES_MESSAGE) {
        notices += 1;
        expected += entry['droppedLines'] as number;
      } else {
        expect(entry['i']).toBe(expected);
        expected += 1;
      }
    }
    expect(expected).toBe(flood);
    expect(notices).toBeGreaterThan(0);
    // Read again, the log goes on.
    destination.write('{"after":true}\n');
    destination.flushSync();
    drain();
    expect(entries().at(-1)).toEqual({ after: true });
    destination.end();
    closeSync(fd);
    closeSync(reader);
  });

  it('waits for a stuck writer once: a later flush, nothing written since, does not wait again', () => {
    // The exit path flushes twice (logger.flush, then the exit listener): with a reader that
    // stopped reading, each waited its 10 s, and a cluster killed workers that had drained.
    const path = dir.path('stuck.fifo');
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(path, constants.O_WRONLY);
    const destination = new BatchedLogDestination(fd, { exitWaitMs: 50 });
    for (let i = 0; i < 20_000; i++)
      destination.write(`${JSON.stringify({ i, text: 'x'.repeat(80) })}\n`);
    destination.flushSync();
    expect(destination.pendingBatches()).toBeGreaterThan(0);
    const waits = vi.spyOn(Atomics, 'wait');
    destination.flushSync();
    expect(waits).not.toHaveBeenCalled();
    waits.mockRestore();
    destination.end();
    closeSync(fd);
    closeSync(reader);
  });

  it('a process whose log nobody reads still exits, after the wait', async () => {
    const path = dir.path('exit.fifo');
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const destinationModule = pathToFileURL(
      join(REPO_ROOT, 'src', 'server', 'log-destination.ts'),
    ).href;
    const script = dir.write(
      'exit-unread.ts',
      `import { openSync } from 'node:fs';\nimport { BatchedLogDestination } from '${destinationModule}';\n` +
        `const destination = new BatchedLogDestination(openSync(${JSON.stringify(path)}, 'w'), { exitWaitMs: 200 });\n` +
        `for (let i = 0; i < 20_000; i++) destination.write(JSON.stringify({ i, text: 'x'.repeat(80) }) + '\\n');\n` +
        `process.exit(7);\n`,
    );
    const child = spawn(process.execPath, ['--import', TSX_LOADER, script], {
      stdio: 'ignore',
      env: childEnvironment(),
    });
    // Before, the writer thread stayed blocked in write(2) on the full pipe and the exit never ended.
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(7);
    closeSync(reader);
  });

  it('a process whose standard output is a blocking socket nobody reads still exits, after the wait', async () => {
    // stdio 'pipe' is a socketpair. Node (and tsx, for its colours) opens it non-blocking; the
    // script sets it blocking again, as systemd's journal socket starts out and as the
    // set-blocking package leaves it. Before, the writer thread blocked in write(2) and the exit
    // waited for it forever.
    const destinationModule = pathToFileURL(
      join(REPO_ROOT, 'src', 'server', 'log-destination.ts'),
    ).href;
    const script = dir.write(
      'exit-unread-socket.mts',
      `import { fstatSync, readFileSync, writeSync } from 'node:fs';\n` +
        `import { BatchedLogDestination } from '${destinationModule}';\n` +
        `const blocking = () => (parseInt(/flags:\\s*(\\d+)/.exec(readFileSync('/proc/self/fdinfo/1', 'utf8'))![1]!, 8) & 0o4000) === 0;\n` +
        `(process.stdout as any)._handle.setBlocking(true);\n` +
        `const before = { socket: fstatSync(1).isSocket(), blocking: blocking() };\n` +
        `const destination = new BatchedLogDestination(1, { exitWaitMs: 200 });\n` +
        `writeSync(2, JSON.stringify({ before, after: { blocking: blocking() } }) + '\\n');\n` +
        `for (let i = 0; i < 20_000; i++) destination.write(JSON.stringify({ i, text: 'x'.repeat(80) }) + '\\n');\n` +
        `process.exit(7);\n`,
    );
    const child = spawn(process.execPath, ['--import', TSX_LOADER, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnvironment(),
    });
    onTestFinished(() => void child.kill('SIGKILL')); // a child that hangs is not left behind
    child.stdout.pause(); // read up to the stream's high-water mark, then nothing: 2 MB do not fit
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(stderr.split('\n')[0]).toBe(
      JSON.stringify({ before: { socket: true, blocking: true }, after: { blocking: false } }),
    );
    expect(code).toBe(7);
    child.stdout.destroy();
  });

  it('a writer thread that fails or stops takes nothing down: later lines are written here', async () => {
    const ways = {
      // As Node reports a thread that could not start or crashed: thrown if nobody listens.
      fails: (writer: Worker) => writer.emit('error', new Error('simulated failure')),
      stops: (writer: Worker) => void writer.terminate(),
    };
    for (const [way, stop] of Object.entries(ways)) {
      const path = dir.path(`writer-${way}.log`);
      const fd = openSync(path, 'w');
      const destination = new BatchedLogDestination(fd);
      const logger = createLogger('prod', 'info', destination);
      logger.info('before');
      destination.flushSync();
      // This one: the test process may emit other warnings meanwhile.
      const warning = new Promise<Error>((resolve) => {
        const listener = (emitted: Error) => {
          if (!emitted.message.startsWith('the log writer thread stopped')) return;
          process.off('warning', listener);
          resolve(emitted);
        };
        process.on('warning', listener);
      });
      stop((destination as unknown as { writer: Worker }).writer);
      expect((await warning).message).toMatch(
        /^the log writer thread stopped \((simulated failure|exit code 1)\)/,
      );
      logger.info('after');
      logger.info('and after');
      destination.flushSync();
      const messages = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { message: string }).message);
      expect(messages).toEqual(['before', 'after', 'and after']);
      destination.end();
      closeSync(fd);
    }
  });

  it('flushSync and logger.flush() write at once', () => {
    const path = dir.path('flush.log');
    const fd = openSync(path, 'w');
    const destination = new BatchedLogDestination(fd);
    const logger = createLogger('prod', 'info', destination);
    logger.info('first');
    logger.flush();
    expect(readFileSync(path, 'utf8')).toContain('"message":"first"');
    logger.info('second');
    destination.flushSync();
    expect(readFileSync(path, 'utf8')).toContain('"message":"second"');
    destination.end();
    closeSync(fd);
  });

  it('an uncaught exception in the turn that logged: every line is written', async () => {
    const { code, lines } = await runScript(
      `setTimeout(() => {\n  for (let i = 0; i < 500; i++) logger.info({ i }, 'before the crash');\n  throw new Error('boom');\n}, 10);`,
    );
    expect(code).toBe(1);
    expect(lines).toHaveLength(500);
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ i: 499 });
  });

  it('process.exit() in the turn that logged: every line is written', async () => {
    const { code, lines } = await runScript(
      `for (let i = 0; i < 500; i++) logger.info({ i }, 'before exit');\nprocess.exit(3);`,
    );
    expect(code).toBe(3);
    expect(lines).toHaveLength(500);
  });
});

describe('BatchedLogDestination with a LineFormat', () => {
  it('formats each line in the writer thread, off the event loop; a line the format throws on is written as it came', async () => {
    const path = dir.path('formatted.log');
    const fd = openSync(path, 'w');
    const destination = new BatchedLogDestination(fd, {}, undefined, {
      module: join(REPO_ROOT, 'test', 'fixtures', 'log-format', 'thread-tagged.cjs'),
      factory: 'threadTagged',
      options: { tag: 'thread ' },
    });
    onTestFinished(() => {
      destination.end();
      closeSync(fd);
    });
    destination.write('{"a":1}\n');
    destination.write('throw\n');
    destination.write('{"a":2}\n');
    destination.flushSync(WAIT);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    const threads = new Set(
      lines
        .filter((line) => line.startsWith('thread '))
        .map((line) => line.slice(7, line.indexOf('|'))),
    );
    expect(threads.size).toBe(1);
    // Not the main thread (0): the writer's.
    expect(Number([...threads][0])).toBeGreaterThan(0);
    expect(lines.map((line) => line.replace(/^thread \d+\|/, ''))).toEqual([
      '{"a":1}',
      'throw',
      '{"a":2}',
      '',
    ]);
    expect(lines[1]).toBe('throw');
  });

  it('a format that cannot be loaded: the writer is gone, and lines are written as they came', async () => {
    const path = dir.path('unformatted.log');
    const fd = openSync(path, 'w');
    const warned = new Promise<string>((resolve) => {
      const listener = (warning: Error) => {
        if (!warning.message.startsWith('the log writer thread stopped')) return;
        process.off('warning', listener);
        resolve(warning.message);
      };
      process.on('warning', listener);
    });
    const destination = new BatchedLogDestination(fd, {}, undefined, {
      module: dir.path('no-such-format.cjs'),
      factory: 'nothing',
      options: {},
    });
    onTestFinished(() => {
      destination.end();
      closeSync(fd);
    });
    expect(await warned).toMatch(/^the log writer thread stopped \(/);
    destination.write('{"a":1}\n');
    destination.flushSync(WAIT);
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
  });
});

describe("the dev log (pino-pretty's lines)", () => {
  it('goes through the same bounded destination: while nobody reads, lines are dropped and counted', async () => {
    const script = dir.write(
      'dev-unread.ts',
      `import { createLogger } from '${LOGGER}';\nconst logger = createLogger('dev', 'info');\n` +
        // 24 MB while standard output is not read: more than the 16 MiB that may wait.
        `for (let i = 0; i < 24_000; i++) logger.info({ i, text: 'x'.repeat(1000) }, 'flood');\n` +
        `process.send!('logged');\n` +
        `process.once('message', () => { logger.info('after'); process.exit(0); });\n`,
    );
    const child = spawn(process.execPath, ['--import', TSX_LOADER, script], {
      stdio: ['ignore', 'pipe', 'ignore', 'ipc'],
      env: childEnvironment(),
    });
    onTestFinished(() => void child.kill('SIGKILL'));
    const output = child.stdout!;
    output.pause();
    await new Promise((resolve) => child.once('message', resolve));
    let stdout = '';
    output.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    output.resume();
    child.send('go');
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    // pino-pretty's lines, the notice among them (as a pino transport, every line was kept).
    expect(stdout).toContain(DROPPED_LINES_MESSAGE);
    const dropped = [...stdout.matchAll(/droppedLines: (\d+)/g)].map(([, n]) => Number(n));
    const written = stdout.match(/INFO.*: flood/g)?.length ?? 0;
    expect(dropped.length).toBeGreaterThan(0);
    expect(written + dropped.reduce((sum, n) => sum + n, 0)).toBe(24_000);
    expect(stdout).toMatch(/INFO.*: after\n/);
  });
});

describe('isoTime', () => {
  it("is pino's isoTime field, formatted again only when the millisecond changes", () => {
    let now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const field = isoTime(() => now);
    expect(field()).toBe(',"time":"2026-01-02T03:04:05.678Z"');
    const realNow = Date.now;
    Date.now = () => now;
    try {
      expect(field()).toBe(pino.stdTimeFunctions.isoTime());
      now += 1;
      expect(field()).toBe(pino.stdTimeFunctions.isoTime());
    } finally {
      Date.now = realNow;
    }
  });

  it('writes every millisecond as Date#toISOString does, across seconds and before 1970', () => {
    let now = 0;
    const field = isoTime(() => now);
    const instants = [
      ...[0, 1, 999, 1_000, 1_001, -1, -999, -1_000, -1_001],
      // A second's last and next millisecond, a leap day, the last 4-digit year, a 6-digit one.
      ...[Date.UTC(2026, 0, 2, 3, 4, 5, 999), Date.UTC(2028, 1, 29, 23, 59, 59, 999)],
      ...[253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_001, 8.64e15, -8.64e15],
      ...Array.from({ length: 2_000 }, (_, i) => 1_780_000_000_000 + i * 7),
    ];
    for (const instant of instants) {
      now = instant;
      expect(field()).toBe(`,"time":"${new Date(instant).toISOString()}"`);
    }
  });
});
