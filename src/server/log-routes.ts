import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseSerialHex } from '../ledger/entry.js';
import type { ProcessLog } from '../ledger/process-ledger.js';
import { parseTilePath } from '../tlog/tile.js';
import { sendGoError } from './http-outcome.js';

export const LOG_ROUTES = {
  checkpoint: '/api/v1/log/checkpoint',
  tile: '/api/v1/log/tile/*',
  key: '/api/v1/log/key',
  proof: '/api/v1/log/proof',
} as const;

const TEXT = 'text/plain; charset=utf-8';
/** A full tile never changes (C2SP tlog-tiles): cache it for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Partial tiles and checkpoints change as the log grows. */
const SHORT = 'public, max-age=1';

/**
 * The transparency log's read routes (C2SP tlog-tiles under /api/v1/log/, plus the key and a
 * tlog-proof@v1 by serial number), with --ledger-key. A malformed path or serial is 400, an unknown
 * one 404, a token not yet in a checkpoint 404 with Retry-After (the sequencer signs every
 * --ledger-checkpoint-interval).
 */
export function registerLogRoutes(app: FastifyInstance, log: ProcessLog): void {
  const unavailable = (reply: FastifyReply) =>
    sendGoError(reply.header('retry-after', '1'), 503, 'the log is not available');

  app.get(LOG_ROUTES.checkpoint, async (_request, reply) => {
    const read = await log.reader.checkpoint();
    if (!read.found) return unavailable(reply);
    return reply.header('cache-control', 'no-cache').type(TEXT).send(read.value);
  });

  app.get(LOG_ROUTES.key, async (_request, reply) =>
    reply.header('cache-control', 'max-age=86400').type(TEXT).send(`${log.verifierKey}\n`),
  );

  app.get<{ Params: { '*': string } }>(LOG_ROUTES.tile, async (request, reply) => {
    let tile;
    try {
      tile = parseTilePath(`tile/${request.params['*']}`);
    } catch {
      return sendGoError(reply, 400, 'malformed tile path');
    }
    const read = await log.reader.tile(tile);
    if (!read.found) return sendGoError(reply, 404, 'no such tile in the log yet');
    const full = tile.w === 2 ** tile.h;
    return reply
      .header('cache-control', full ? IMMUTABLE : SHORT)
      .type('application/octet-stream')
      .send(Buffer.from(read.value));
  });

  app.get<{ Querystring: { serial?: string } }>(LOG_ROUTES.proof, async (request, reply) => {
    const text = request.query.serial;
    const serial = typeof text === 'string' ? parseSerialHex(text) : undefined;
    if (!serial) {
      return sendGoError(reply, 400, 'serial must be a hexadecimal serial number (0x optional)');
    }
    const read = await log.reader.proof(serial);
    if (read.found) return reply.header('cache-control', 'no-cache').type(TEXT).send(read.value);
    if (read.reason === 'unknown')
      return sendGoError(reply, 404, 'no token with this serial number');
    return sendGoError(
      reply.header('retry-after', '1'),
      404,
      'the token is not in a signed checkpoint yet: retry in a second',
    );
  });
}
