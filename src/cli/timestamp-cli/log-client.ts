import type { Response } from 'undici';
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { allOrAbort } from '../../deadline.js';
import {
  HASH_SIZE,
  latestTilesReader,
  newVerifier,
  TILE_HEIGHT,
  tilePath,
  type Tile,
  type TileReader,
} from '../../tlog/index.js';
import { answerText } from './answer-text.js';
import { parseHttpUrl } from './arguments.js';
import { userAgent } from './http-client.js';
import { cliFetch } from './http-fetch.js';
import { CliError } from './output.js';
import { TimeBudget } from './time-budget.js';
import {
  MAX_LOG_RESOURCE_BYTES,
  MAX_TEXT_FILE_BYTES,
  readBodyCapped,
  readFileCapped,
} from './read-body.js';

/** Where a TSA publishes its transparency log (issue 15's routes). */
export const LOG_PATH = '/api/v1/log/';

/** The base URL of a TSA: scheme, host and any path prefix, without a trailing slash. */
export function parseLogUrl(value: string): string {
  const url = parseHttpUrl(value);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** What a --log-key and the log's served key must be: a signed-note verifier key. */
const LOG_KEY = 'log verifier key (origin+keyid+base64)';

/**
 * The log's note verifier key ("origin+keyid+base64") as the log serves it (GET /api/v1/log/key):
 * text only, never a path, since the server is not trusted to name local files.
 */
export function parseServedLogKey(body: Buffer, url: string): string {
  return verifierKey(
    body.toString('utf8'),
    (why) => new CliError('INVALID_RESPONSE', `GET ${url}: not a ${LOG_KEY}: ${why}`),
  );
}

/** `text` trimmed, when it is a log verifier key; else `refusal` of newVerifier's reason. */
function verifierKey(text: string, refusal: (why: string) => Error): string {
  const key = text.trim();
  try {
    newVerifier(key);
  } catch (error) {
    throw refusal((error as Error).message);
  }
  return key;
}

/** The --log-key argument: the key itself, or a file that holds it (read by readLogKey). */
export type LogKeyArgument = { key: string } | { file: string };

/**
 * The --log-key argument: the log's note verifier key ("origin+keyid+base64"), given as the key
 * itself or as a file that holds it (what GET /api/v1/log/key returns). A file is only read when
 * the command runs (readLogKey), without blocking and at most MAX_TEXT_FILE_BYTES of it: an
 * argument parser is synchronous, and a FIFO or /dev/zero there would hang or fill memory.
 */
export function parseLogKey(value: string): LogKeyArgument {
  if (existsSync(value)) return { file: value };
  const key = verifierKey(
    value,
    (why) => new InvalidArgumentError(`"${value}" is not a ${LOG_KEY}: ${why}`),
  );
  return { key };
}

/** The key of a --log-key argument: as given, or read from its file and checked. */
export async function readLogKey(argument: LogKeyArgument): Promise<string> {
  if ('key' in argument) return argument.key;
  const text = await readFileCapped(argument.file, MAX_TEXT_FILE_BYTES, '--log-key');
  return verifierKey(
    text.toString('utf8'),
    (why) => new CliError('USAGE', `--log-key ${argument.file} does not hold a ${LOG_KEY}: ${why}`),
  );
}

/** A serial number in hexadecimal as `openssl ts -reply -text` prints it: any case, 0x optional. */
export function parseSerialHex(value: string): string {
  const hex = value.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(hex))
    throw new InvalidArgumentError(`"${value}" is not a hexadecimal serial number`);
  return BigInt(`0x${hex}`).toString(16);
}

/** How getLogResource asks. */
export interface LogResourceOptions {
  /** resolve to undefined on 404 rather than throw */
  missingOk?: boolean;
  /** ends the GET early, without a retry: another GET of its batch failed */
  signal?: AbortSignal;
  /** the --timeout this GET shares with others; by default its own, for it and its retry */
  budget?: TimeBudget;
  /**
   * Asked on a 404 with Retry-After ("not yet") how long the server asks to wait: resolves true
   * once it has waited (the GET is made again), false to refuse the answer as without it.
   */
  waitNotYet?: (retryAfterMs: number) => Promise<boolean>;
}

/**
 * GETs a log resource; resolves to undefined on a 404 when `missingOk` (one with Retry-After, a
 * resource not there yet, is refused with the server's words), else throws a CliError.
 */
export async function getLogResource(
  base: string,
  path: string,
  timeoutMs: number,
  options: LogResourceOptions = {},
): Promise<Buffer | undefined> {
  const { missingOk = false, budget = new TimeBudget(timeoutMs), waitNotYet } = options;
  for (;;) {
    const answer = await getLogAnswer(base, path, timeoutMs, { ...options, budget });
    // A 404 with Retry-After is "not yet" (a token not in a signed checkpoint yet), not "none".
    const retryAfter = answer.status === 404 ? answer.retryAfter : null;
    if (retryAfter === null) {
      if (answer.status === 404 && missingOk) return undefined;
      if (answer.status === 200) return answer.body;
    } else {
      // Retry-After in seconds, as the server writes it (an HTTP-date is not waited for); at
      // least one, as 0 would ask again at once, and again.
      const seconds = Math.max(1, Number(retryAfter));
      if (waitNotYet && /^\d{1,9}$/.test(retryAfter) && (await waitNotYet(seconds * 1000)))
        continue;
    }
    throw new CliError(
      'SERVER_REFUSED',
      `GET ${answer.url}: ${answerText(answer.status, answer.contentType, answer.body)}`,
    );
  }
}

/** One GET of a log resource (and its retry after a dropped connection), read whole. */
async function getLogAnswer(
  base: string,
  path: string,
  timeoutMs: number,
  { signal, budget = new TimeBudget(timeoutMs) }: LogResourceOptions,
): Promise<{
  url: string;
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  body: Buffer;
}> {
  const url = `${base}${LOG_PATH}${path}`;
  let response: Response | undefined;
  let firstFailure: string | undefined;
  // GETs are idempotent: one retry covers a kept-alive connection the server closed meanwhile
  // (ECONNRESET after a long pause between fetches, e.g. while an audit checks a bundle). It gets
  // what the first attempt left of the --timeout, not a --timeout of its own.
  for (let attempt = 1; !response; attempt++) {
    const leftMs = budget.leftMs();
    if (leftMs === 0) {
      const why =
        firstFailure === undefined
          ? '--timeout ran out before it was sent'
          : `${firstFailure}, and --timeout ran out before a retry`;
      throw new CliError('REQUEST_FAILED', `GET ${url}: ${why}`);
    }
    try {
      response = await cliFetch(
        url,
        { headers: { 'User-Agent': userAgent(), 'Accept-Encoding': 'gzip, identity' } },
        timeoutMs,
        { ...(leftMs !== undefined ? { leftMs } : {}), ...(signal ? { signal } : {}) },
      );
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      const failure = `${(error as Error).message}${cause ? `: ${cause}` : ''}`;
      if (attempt < 2 && !(error instanceof DOMException) && !signal?.aborted) {
        firstFailure = failure;
        continue;
      }
      throw new CliError('REQUEST_FAILED', `GET ${url}: ${failure}`);
    }
  }
  let body: Buffer;
  try {
    body = await readBodyCapped(response, MAX_LOG_RESOURCE_BYTES, `GET ${url}`);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('REQUEST_FAILED', `GET ${url}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    url,
    status: response.status,
    contentType: response.headers.get('content-type'),
    retryAfter: response.headers.get('retry-after'),
    body,
  };
}

/**
 * GETs tile `tile` (a hash tile or an entry bundle). A partial one the log no longer serves is
 * taken from its full tile (`full`: true), whose first w hashes or entries are the partial's: C2SP
 * tlog-tiles lets a log delete a partial tile once the full one exists, and clients fetch that
 * instead. When both are missing, the error names the partial tile, the one the checkpoint needs.
 */
export async function getTileOrFull(
  base: string,
  tile: Tile,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ data: Buffer; full: boolean }> {
  const path = tilePath(tile);
  const fullWidth = 2 ** tile.h;
  const options = signal ? { signal } : {};
  const data = await getLogResource(base, path, timeoutMs, {
    ...options,
    missingOk: tile.w < fullWidth,
  });
  if (data !== undefined) return { data, full: tile.w === fullWidth };
  const fullPath = tilePath({ ...tile, w: fullWidth });
  const full = await getLogResource(base, fullPath, timeoutMs, { ...options, missingOk: true });
  if (full === undefined)
    throw new CliError(
      'SERVER_REFUSED',
      `GET ${base}${LOG_PATH}${path}: HTTP 404 (as for ${fullPath}, the full tile that may replace it)`,
    );
  return { data: full, full: true };
}

/**
 * Reads C2SP tiles over HTTP, keeping the latest full and partial tile of each level
 * (latestTilesReader): an audit asking for a tree's leaves bundle by bundle reads each tile once
 * and holds a few, and a tileHashReader authenticates them all the same. The tiles of a batch are
 * fetched together, and the first that fails aborts the others (allOrAbort). A partial tile the
 * log deleted is read from its full tile (getTileOrFull).
 */
export function httpTileReader(base: string, timeoutMs: number): TileReader {
  return latestTilesReader({
    height: () => TILE_HEIGHT,
    readTiles: (tiles) =>
      allOrAbort(
        tiles.map((tile) => async (signal) => {
          const { data, full } = await getTileOrFull(base, tile, timeoutMs, signal);
          // A full tile standing in for a partial one: its first w hashes, which the
          // tileHashReader authenticates as it would the partial tile's.
          return new Uint8Array(full ? data.subarray(0, tile.w * HASH_SIZE) : data);
        }),
      ),
  });
}
