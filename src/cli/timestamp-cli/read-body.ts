import { createReadStream } from 'node:fs';
import { collectCapped } from '../../capped-read.js';
import { descriptorPathProblem } from './descriptor-path.js';
import { CliError, fileErrorReason } from './output.js';

/** Largest TimeStampResp accepted: a token with a long chain is a few KiB. */
export const MAX_TIMESTAMP_RESPONSE_BYTES = 1 << 20;
/** Largest log resource accepted: an entry bundle holds up to 256 entries of 65,535 bytes. */
export const MAX_LOG_RESOURCE_BYTES = 20 << 20;
/** Largest PEM file, log proof, log key or checkpoint read: each is a few KiB at most. */
export const MAX_TEXT_FILE_BYTES = 1 << 20;
/** Largest --trusted-root: a trusted_root.json holds a few chains per authority, tens of KiB. */
export const MAX_TRUSTED_ROOT_BYTES = 4 << 20;

/** What readBodyCapped reads of a fetch Response (the global one's or undici's). */
export interface FetchedResponse {
  headers: { get(name: string): string | null };
  body: (AsyncIterable<Uint8Array> & { cancel(): Promise<void> }) | null;
}

/**
 * Reads a fetch body, stopping (and cancelling the stream) once it exceeds `limit` bytes, so a
 * hostile server cannot make the client buffer gigabytes. `what` prefixes the error message.
 */
export async function readBodyCapped(
  response: FetchedResponse,
  limit: number,
  what: string,
): Promise<Buffer> {
  const tooLarge = () =>
    new CliError(
      'INVALID_RESPONSE',
      `${what}: the response is larger than ${limit} bytes (${limit >> 20} MiB), the most accepted`,
    );
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  return collectCapped(response.body, limit, tooLarge);
}

/**
 * Reads a file of at most `limit` bytes as a stream, stopping once it is larger, so a huge file
 * or an endless device (`/dev/zero`, a pipe) is refused instead of filling memory. Its errors
 * name the file, and the `flag` that gave it when there is one.
 */
export async function readFileCapped(path: string, limit: number, flag?: string): Promise<Buffer> {
  const named = flag === undefined ? path : `${flag} ${path}`;
  const problem = descriptorPathProblem(path);
  if (problem) throw new CliError('FILE', `error reading ${named}: ${problem}`);
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  try {
    return await collectCapped(
      stream,
      limit,
      () =>
        new CliError(
          'FILE',
          `error reading ${named}: the file is larger than ${limit} bytes (${limit >> 20} MiB), the most accepted`,
        ),
    );
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('FILE', `error reading ${named}: ${fileErrorReason(error)}`, {
      cause: error,
    });
  } finally {
    stream.destroy();
  }
}
