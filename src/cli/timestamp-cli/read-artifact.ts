import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { descriptorPathProblem } from './descriptor-path.js';
import { CliError, fileErrorReason } from './output.js';

/** Progress appears only when reading takes longer than this. */
const PROGRESS_AFTER_MS = 1000;

/**
 * Streams a file's bytes (so a large artifact never sits in memory) and, when reading takes more
 * than a second, reports progress on stderr: in place on a terminal, one line a second otherwise.
 */
export async function* readArtifact(
  path: string,
  stderr: NodeJS.WriteStream = process.stderr,
): AsyncGenerator<Buffer> {
  // Named by the user's path: Node's "EISDIR: illegal operation on a directory, read" names none.
  const failed = (error: unknown) =>
    new CliError('FILE', `error reading ${path}: ${fileErrorReason(error)}`, { cause: error });
  const problem = descriptorPathProblem(path);
  if (problem) throw new CliError('FILE', `error reading ${path}: ${problem}`);
  const stats = await stat(path).catch((error: unknown) => {
    throw failed(error);
  });
  // A pipe or device has no size to measure progress against.
  const size = stats.isFile() ? stats.size : undefined;
  let read = 0;
  let shown = false;
  const report = () => {
    const line =
      size === undefined
        ? `hashing ${path}: ${megabytes(read)} MB read`
        : `hashing ${path}: ${megabytes(read)} of ${megabytes(size)} MB (${size > 0 ? Math.floor((read / size) * 100) : 100}%)`;
    if (stderr.isTTY) stderr.write(`\r${line}`);
    else stderr.write(`${line}\n`);
    shown = true;
  };
  const timer = setInterval(report, PROGRESS_AFTER_MS);
  timer.unref();
  try {
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (error) {
      throw failed(error);
    }
  } finally {
    clearInterval(timer);
    if (shown) {
      report();
      if (stderr.isTTY) stderr.write('\n');
    }
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}
