import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseSerialHex } from '../ledger/entry.js';
import { isTransientDatabaseError } from '../ledger/errors.js';
import type { ProcessLog } from '../ledger/process-ledger.js';
import { TlogError } from '../tlog/errors.js';
import { parseTilePath, type Tile } from '../tlog/tile.js';
import { acceptsGzip } from './accept-encoding.js';
import { sendGoError } from './http-outcome.js';
import { logReadCacheOf, type LogReadCache } from './log-read-cache.js';
import { addVary, targetPath } from './request-origin.js';

/**
 * The Go JSON error of a log route, never stored by a cache (`Cache-Control: no-store`): a 404
 * for a tile or proof that does not exist yet, or a 503 of an outage, would otherwise be served
 * by a shared cache (404 is cacheable by default) after the log has it.
 */
export function refuseLogRequest(reply: FastifyReply, code: number, message: string): FastifyReply {
  return sendGoError(reply.header('cache-control', 'no-store'), code, message);
}

export const LOG_PREFIX = '/api/v1/log/';

export const LOG_ROUTES = {
  checkpoint: '/api/v1/log/checkpoint',
  tile: '/api/v1/log/tile/*',
  key: '/api/v1/log/key',
  proof: '/api/v1/log/proof',
} as const;

/**
 * The tile a request names, from its path as the client sent it (in origin or absolute form):
 * Fastify hands the wildcard over percent-decoded, so "0%2F000" or "%30%30%30" would pass for
 * "0/000", each spelling its own cache key of one tile. Only the canonical C2SP spelling names a
 * tile (a percent sign never does): 'malformed' otherwise (400), and 'none' for a well-formed path
 * beyond 2^53 (404: no log has that tile).
 */
function requestedTile(url: string): Tile | 'malformed' | 'none' {
  const path = targetPath(url);
  if (!path.startsWith(`${LOG_PREFIX}tile/`)) return 'malformed';
  try {
    return parseTilePath(path.slice(LOG_PREFIX.length));
  } catch (error) {
    return error instanceof TlogError && error.code === 'TILE_OUT_OF_RANGE' ? 'none' : 'malformed';
  }
}

const TEXT = 'text/plain; charset=utf-8';
/**
 * Tiles and entry bundles, full and partial, are immutable (C2SP tlog-tiles): cache them for good.
 * A partial one at .p/<W> is served only once a checkpoint covers its W entries, from stored
 * hashes and ledger rows that are only ever added, and never deleted here: the same W hashes or
 * entries as the prefix of the full tile, for as long as the path is served.
 */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The transparency log's read routes (C2SP tlog-tiles under /api/v1/log/, plus the key and a
 * tlog-proof@v1 by serial number), with --ledger-key. A malformed path or serial is 400, an unknown
 * one 404, a token not yet in a checkpoint 404 with Retry-After (the sequencer signs every
 * --ledger-checkpoint-interval), and a database that does not answer 503 with Retry-After, as
 * before the first checkpoint; none of these is cached (`no-store`). Entry bundles are
 * gzip-compressed for a client that accepts gzip. Other methods are 405 (app.ts). Reads go
 * through the process's LogReadCache: one read per resource at a time, full tiles kept.
 */
export function registerLogRoutes(
  app: FastifyInstance,
  log: ProcessLog,
  reads: LogReadCache = logReadCacheOf(log.reader),
): void {
  const pendingRetryAfterS = Math.max(1, Math.ceil(log.checkpointIntervalMs / 1000));
  const unavailable = (reply: FastifyReply) =>
    refuseLogRequest(reply.header('retry-after', '1'), 503, 'the log is not available');

  /**
   * A read that failed: the database does not answer for now, or no connection is free, leaves
   * the log unavailable, 503 with Retry-After; anything else (log data that cannot be served, a
   * stored state that disagrees with itself, a fault of ours) is a fault, 500 with its stack in
   * the log, which a retry every second would not mend.
   */
  const readFailed = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (!isTransientDatabaseError(error)) {
      request.log.error({ err: error }, 'cannot read the transparency log');
      return refuseLogRequest(reply, 500, 'the log could not be read');
    }
    request.log.warn({ reason: describeDatabaseError(error) }, 'log database unavailable');
    return unavailable(reply);
  };

  app.get(LOG_ROUTES.checkpoint, async (request, reply) => {
    let read;
    try {
      read = await reads.checkpoint();
    } catch (error) {
      return readFailed(request, reply, error);
    }
    if (!read.found) return unavailable(reply);
    return reply.header('cache-control', 'no-cache').type(TEXT).send(read.value);
  });

  app.get(LOG_ROUTES.key, async (_request, reply) =>
    reply.header('cache-control', 'max-age=86400').type(TEXT).send(`${log.verifierKey}\n`),
  );

  app.get(LOG_ROUTES.tile, async (request, reply) => {
    const tile = requestedTile(request.url);
    if (tile === 'malformed') return refuseLogRequest(reply, 400, 'malformed tile path');
    if (tile === 'none') return refuseLogRequest(reply, 404, 'no such tile in the log yet');
    // Hash tiles are hashes, which do not compress; entry bundles (DER tokens) do, and tlog-tiles
    // says they SHOULD be compressed.
    const gzipped = tile.l === -1 && acceptsGzip(request.headers['accept-encoding']);
    let read;
    try {
      read = await (gzipped ? reads.gzipped(tile) : reads.tile(tile));
    } catch (error) {
      return readFailed(request, reply, error);
    }
    if (!read.found) return refuseLogRequest(reply, 404, 'no such tile in the log yet');
    reply.header('cache-control', IMMUTABLE).type('application/octet-stream');
    if (tile.l === -1) reply.header('vary', addVary(reply.getHeader('vary'), 'Accept-Encoding'));
    if (gzipped) reply.header('content-encoding', 'gzip');
    // A view, not a copy: every response of a kept tile sends the one buffer.
    const { buffer, byteOffset, byteLength } = read.value;
    return reply.send(Buffer.from(buffer, byteOffset, byteLength));
  });

  app.get<{ Querystring: { serial?: string } }>(LOG_ROUTES.proof, async (request, reply) => {
    const text = request.query.serial;
    const serial = typeof text === 'string' ? parseSerialHex(text) : undefined;
    if (!serial) {
      return refuseLogRequest(
        reply,
        400,
        'serial must be a hexadecimal serial number (0x optional)',
      );
    }
    let read;
    try {
      read = await reads.proof(serial);
    } catch (error) {
      return readFailed(request, reply, error);
    }
    if (read.found) return reply.header('cache-control', 'no-cache').type(TEXT).send(read.value);
    if (read.reason === 'unknown')
      return refuseLogRequest(reply, 404, 'no token with this serial number');
    // The next checkpoint holds it: one is signed every --ledger-checkpoint-interval.
    return refuseLogRequest(
      reply.header('retry-after', String(pendingRetryAfterS)),
      404,
      `the token is not in a signed checkpoint yet: retry in ${pendingRetryAfterS} s`,
    );
  });
}

/** An error's code and message for a log line (pg messages never hold the password). */
function describeDatabaseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}
