import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogReader } from '../../../src/ledger/log-reader.js';
import type { ProcessLog } from '../../../src/ledger/process-ledger.js';
import type { Sequencer } from '../../../src/ledger/sequencer.js';
import { registerLogRoutes } from '../../../src/server/log-routes.js';
import type { Tile } from '../../../src/tlog/tile.js';

// The tile route over a reader that has every tile: what it answers for each spelling of a path.

let app: FastifyInstance;
let asked: Tile[];

beforeEach(async () => {
  asked = [];
  const reader = {
    tile: (tile: Tile) => {
      asked.push(tile);
      return Promise.resolve({ found: true, value: new Uint8Array(tile.w * 32) });
    },
  } as unknown as LogReader;
  const log: ProcessLog = {
    origin: 'tsa.test/log',
    verifierKey: 'tsa.test/log+00000000+AQ==',
    reader,
    sequencer: {} as Sequencer,
    checkpointIntervalMs: 1000,
  };
  app = Fastify();
  registerLogRoutes(app, log);
  await app.ready();
});
afterEach(async () => {
  await app.close();
});

const get = (path: string) => app.inject({ method: 'GET', url: `/api/v1/log/${path}` });

describe('the tile route', () => {
  it('serves the canonical spelling', async () => {
    const response = await get('tile/0/x001/234.p/5?ignored=1');
    expect(response.statusCode).toBe(200);
    expect(asked).toEqual([{ h: 8, l: 0, n: 1234, w: 5 }]);
  });

  it.each([
    'tile/0/000',
    'tile/0/000.p/5',
    'tile/1/000.p/1',
    'tile/entries/000',
    'tile/entries/000.p/5',
  ])('serves %s immutable: a path, full or partial, never changes content', async (path) => {
    const response = await get(path);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it.each(['tile/0%2F000', 'tile/0/%30%30%30', 'tile/entries/000.p%2F5', 't%69le/0/000'])(
    'refuses the percent-encoded spelling %s (400, no-store), as it arrived, not as decoded',
    async (path) => {
      const response = await get(path);
      expect(response.statusCode).toBe(400);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual({ code: 400, message: 'malformed tile path' });
      expect(asked).toEqual([]);
    },
  );

  it('answers a well-formed tile beyond 2^53 404 (no-store): no log has it', async () => {
    const response = await get('tile/0/x009/x007/x199/x254/x740/x991/000');
    expect(response.statusCode).toBe(404);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toEqual({ code: 404, message: 'no such tile in the log yet' });
    expect(asked).toEqual([]);
  });

  it.each([
    'tile/0/x000/x009/x007/x199/x254/x740/x991/000',
    'tile/0/x009/x007/x199/x254/x740/x991/x000',
    'tile/00/x009/x007/x199/x254/x740/x991/000',
  ])('still refuses a non-canonical spelling beyond 2^53 (400): %s', async (path) => {
    expect((await get(path)).statusCode).toBe(400);
  });
});
