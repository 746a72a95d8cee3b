/**
 * A write error on the prod log's output (a full disk, a file size limit, an I/O error) costs the
 * lines of that batch only: they are counted in a "log lines dropped" notice once the output can
 * be written again, standard error says so once, and the lines after it are written.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  BatchedLogDestination,
  DROPPED_LINES_MESSAGE,
} from '../../../src/server/log-destination.js';
import { createLogger } from '../../../src/server/logger.js';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment } from '../../helpers/process.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { REPO_ROOT, TSX_LOADER } from '../../helpers/spawn-server.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

const LOGGER = pathToFileURL(join(REPO_ROOT, 'src', 'server', 'logger.ts')).href;

describe('BatchedLogDestination: write errors', () => {
  it('says once on standard error that the output fails (/dev/full: ENOSPC), not silently', async () => {
    const fd = openSync('/dev/full', 'w');
    const destination = new BatchedLogDestination(fd);
    const logger = createLogger('prod', 'info', destination);
    const warnings: string[] = [];
    const listener = (warning: Error) => {
      if (warning.message.startsWith('the log could not be written'))
        warnings.push(warning.message);
    };
    process.on('warning', listener);
    onTestFinished(() => {
      process.off('warning', listener);
      destination.end();
      closeSync(fd);
    });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) logger.info({ i }, 'line');
      destination.flushSync();
    }
    await expect.poll(() => warnings, UNTIL_SETTLED).toHaveLength(1);
    expect(warnings[0]).toBe(
      `the log could not be written to descriptor ${fd} (ENOSPC): ` +
        'log lines are dropped and counted until it can be written again',
    );
    // Every batch failed, and still one warning.
    for (let i = 0; i < 100; i++) logger.info({ i }, 'line');
    destination.flushSync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toHaveLength(1);
  });

  it('a file that hit its size limit (EFBIG), then truncated (copytruncate): later lines are written, the lost ones counted', async () => {
    const { logged, copy, after, stderr } = await logUntilCapped('prod');
    // The copy: the lines written before the limit, in order, the last one perhaps cut.
    const copied = copy.split('\n').slice(0, -1);
    expect(copied.length).toBeGreaterThan(0);
    expect(copied.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(
      Array.from({ length: copied.length }, (_, i) => i),
    );
    // After the truncation: one notice counting every line not in the copy, then the new lines.
    const entries = after
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({
      severity: 'WARN',
      message: DROPPED_LINES_MESSAGE,
      droppedLines: logged - copied.length,
    });
    expect(entries.slice(1).map((entry) => [entry['message'], entry['n']])).toEqual(
      Array.from({ length: 10 }, (_, n) => ['after', n]),
    );
    expect(stderr.match(/the log could not be written/g)).toHaveLength(1);
    expect(stderr).toContain(
      'the log could not be written to standard output (EFBIG): log lines are dropped',
    );
  });

  it('the dev log, formatted in the writer thread over several lines an entry: lost entries are counted, not lines', async () => {
    const { logged, copy, after, stderr } = await logUntilCapped('dev');
    // pino-pretty writes each entry over three lines (the message, then i and text); an entry
    // counts as written only if its last line is whole. What follows the cut starts on a new line.
    const whole = [...copy.matchAll(/: before\n {4}i: (\d+)\n {4}text: "x{200}"\n/g)];
    expect(whole.length).toBeGreaterThan(0);
    expect(whole.map(([, i]) => Number(i))).toEqual(
      Array.from({ length: whole.length }, (_, i) => i),
    );
    expect(after).toMatch(
      new RegExp(
        `^\\n?\\[[^\\]]+\\] WARN \\(\\d+\\): ${DROPPED_LINES_MESSAGE}\\n {4}droppedLines: ${logged - whole.length}\\n`,
      ),
    );
    expect(after.match(/INFO \(\d+\): after\n {4}n: \d+\n/g)).toHaveLength(10);
    expect(stderr.match(/the log could not be written/g)).toHaveLength(1);
  });
});

/**
 * A child logs to standard output, a file opened for appending, under a file size limit (ulimit
 * -f: 1 or 2 MiB, as sh counts blocks) until a write fails, then waits for the test to copy and
 * truncate the file, as logrotate's copytruncate does, and logs 10 lines again.
 */
async function logUntilCapped(
  logType: 'prod' | 'dev',
): Promise<{ logged: number; copy: string; after: string; stderr: string }> {
  const script = dir.write(
    `efbig-${logType}.mts`,
    `import { createLogger } from '${LOGGER}';\n` +
      `const logger = createLogger('${logType}', 'info');\n` +
      `let failed = false;\n` +
      `process.on('warning', (w) => { if (w.message.startsWith('the log could not be written')) failed = true; });\n` +
      `let i = 0;\n` +
      `while (!failed && i < 1_000_000) {\n` +
      `  for (let n = 0; n < 1000; n++) logger.info({ i: i++, text: 'x'.repeat(200) }, 'before');\n` +
      `  logger.flush();\n` +
      `  await new Promise((resolve) => setTimeout(resolve, 1));\n` +
      `}\n` +
      `logger.flush();\n` +
      `process.send!({ logged: i });\n` +
      `await new Promise((resolve) => process.once('message', resolve));\n` +
      `for (let n = 0; n < 10; n++) logger.info({ n }, 'after');\n` +
      `process.disconnect();\n`,
  );
  const path = dir.path(`capped-${logType}.log`);
  const out = openSync(path, 'a');
  const child = spawn(
    'sh',
    ['-c', 'ulimit -f 2048 && exec "$0" "$@"', process.execPath, '--import', TSX_LOADER, script],
    { stdio: ['ignore', out, 'pipe', 'ipc'], env: childEnvironment() },
  );
  closeSync(out);
  onTestFinished(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const { logged } = await new Promise<{ logged: number }>((resolve) =>
    child.once('message', (message) => resolve(message as { logged: number })),
  );
  const copy = readFileSync(path, 'utf8');
  truncateSync(path, 0);
  child.send('go');
  expect(await exited).toBe(0);
  return { logged, copy, after: readFileSync(path, 'utf8'), stderr };
}
