import { generateKeyPairSync } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../../../src/ledger/ledger.js';
import { LogReader } from '../../../src/ledger/log-reader.js';
import { Sequencer } from '../../../src/ledger/sequencer.js';
import { LogReadCache } from '../../../src/server/log-read-cache.js';
import { registerLogRoutes } from '../../../src/server/log-routes.js';
import { newEd25519Signer, verifierKey } from '../../../src/tlog/note.js';
import { parseEntryBundle } from '../../../src/tlog/tile.js';
import {
  insertLedgerRows,
  openTestLedger,
  recordingLedgerLogger,
  resetLedgerSchema,
} from '../../helpers/ledger-db.js';
import { randomLedgerEntry } from '../../helpers/ledger-entry.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

// The log routes over PostgreSQL: how many reads a flood of one tile makes, and what they serve
// as the log grows.

const ORIGIN = 'tsa.test/cache';

let postgres: TestPostgres;
let db: pg.Pool;
let readPool: pg.Pool;
let ledger: Ledger;
let sequencer: Sequencer;
let sequencerPool: pg.Pool;
/** Every query the routes' reader sent, in order. */
const queries: string[] = [];
let reader: LogReader;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined);
  await resetLedgerSchema(db);
  ledger = await openTestLedger(postgres.url);
  readPool = new pg.Pool({ connectionString: postgres.url, max: 3 });
  readPool.on('error', () => undefined);
  const query = readPool.query.bind(readPool) as (...args: unknown[]) => Promise<unknown>;
  readPool.query = ((...args: unknown[]) => {
    queries.push(String(args[0]));
    return query(...args);
  }) as pg.Pool['query'];
  reader = new LogReader(readPool);
  sequencerPool = new pg.Pool({ connectionString: postgres.url, max: 1 });
  sequencerPool.on('error', () => undefined);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  sequencer = new Sequencer(sequencerPool, {
    signer: newEd25519Signer(ORIGIN, privateKey),
    origin: ORIGIN,
    verifierKey: verifierKey(ORIGIN, publicKey),
    intervalMs: 60_000,
    logger: recordingLedgerLogger().logger,
  });
  await growLog(0, 300);
});
afterAll(async () => {
  await sequencer?.stop();
  await sequencerPool?.end();
  await ledger?.close();
  await readPool?.end();
  await db?.end();
  await postgres?.destroy();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** `count` made-up rows from log index `from` on, as commits add them, then signed. */
async function growLog(from: number, count: number): Promise<void> {
  await insertLedgerRows(db, from, count);
  await sequencer.round();
}

/** The log routes with a cache of their own (a fresh process's). */
async function routes(): Promise<FastifyInstance> {
  const app = Fastify();
  // A checkpoint every 30 s: a token not in one yet is worth asking for again in 30 s.
  const log = { origin: ORIGIN, verifierKey: '', reader, sequencer, checkpointIntervalMs: 29_500 };
  registerLogRoutes(app, log, new LogReadCache(reader));
  await app.ready();
  apps.push(app);
  return app;
}

const get = (app: FastifyInstance, path: string, gzip = false) =>
  app.inject({
    method: 'GET',
    url: `/api/v1/log/${path}`,
    headers: gzip ? { 'accept-encoding': 'gzip' } : {},
  });

/** The queries one request for `path` makes, served by a fresh process. */
async function queriesOfOne(path: string, gzip = false): Promise<string[]> {
  const app = await routes();
  const before = queries.length;
  expect((await get(app, path, gzip)).statusCode).toBe(200);
  return queries.slice(before);
}

describe('the log routes over PostgreSQL', () => {
  it('read a full entry bundle once for 40 requests at once, plain and gzipped, and keep it', async () => {
    const one = await queriesOfOne('tile/entries/000');
    expect(one.some((text) => text.startsWith('SELECT token FROM tsa_ledger'))).toBe(true);
    const app = await routes();
    const before = queries.length;
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(app, 'tile/entries/000', i % 2 === 0)),
    );
    expect(queries.slice(before)).toEqual(one);
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);
    const plain = responses[1]!.rawPayload;
    expect(parseEntryBundle(plain)).toHaveLength(256);
    for (const [i, response] of responses.entries()) {
      const gzipped = i % 2 === 0;
      expect(response.headers['content-encoding']).toBe(gzipped ? 'gzip' : undefined);
      const body = gzipped ? gunzipSync(response.rawPayload) : response.rawPayload;
      expect(body.equals(plain)).toBe(true);
    }
    // Kept: later requests, either way, read nothing.
    expect((await get(app, 'tile/entries/000', true)).statusCode).toBe(200);
    expect((await get(app, 'tile/entries/000')).statusCode).toBe(200);
    expect(queries.length).toBe(before + one.length);
  });

  it('read a full hash tile once for 40 requests at once', async () => {
    const one = await queriesOfOne('tile/0/000');
    const app = await routes();
    const before = queries.length;
    const responses = await Promise.all(Array.from({ length: 40 }, () => get(app, 'tile/0/000')));
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);
    expect(new Set(responses.map((response) => response.body)).size).toBe(1);
    expect(queries.slice(before)).toEqual(one);
  });

  it('serve partial tiles and the full ones as the log grows: no 404 and no partial tile kept', async () => {
    const app = await routes();
    const partial = await get(app, 'tile/entries/001.p/44');
    expect(partial.statusCode).toBe(200);
    expect(parseEntryBundle(partial.rawPayload)).toHaveLength(44);
    expect((await get(app, 'tile/entries/001')).statusCode).toBe(404);
    expect((await get(app, 'tile/0/001')).statusCode).toBe(404);
    const partialHashes = await get(app, 'tile/0/001.p/44');
    expect(partialHashes.rawPayload).toHaveLength(44 * 32);

    await growLog(300, 212);
    const full = await get(app, 'tile/entries/001');
    expect(full.statusCode).toBe(200);
    const entries = parseEntryBundle(full.rawPayload);
    expect(entries).toHaveLength(256);
    expect(full.rawPayload.subarray(0, partial.rawPayload.length).equals(partial.rawPayload)).toBe(
      true,
    );
    const hashes = await get(app, 'tile/0/001');
    expect(hashes.statusCode).toBe(200);
    expect(hashes.rawPayload.subarray(0, 44 * 32).equals(partialHashes.rawPayload)).toBe(true);
    // A partial tile is read again, and a wider one of the grown log is served.
    const before = queries.length;
    expect((await get(app, 'tile/entries/001.p/44')).rawPayload.equals(partial.rawPayload)).toBe(
      true,
    );
    expect(queries.length).toBeGreaterThan(before);
    expect((await get(app, 'tile/1/000.p/2')).rawPayload).toHaveLength(64);
    expect((await get(app, 'checkpoint')).body.split('\n')[1]).toBe('512');
  });

  it("answer 404 with Retry-After for the token at the index the latest checkpoint's size names", async () => {
    const app = await routes();
    const size = Number((await get(app, 'checkpoint')).body.split('\n')[1]);
    const entry = randomLedgerEntry();
    // The first index no checkpoint holds yet: the tree size itself.
    expect(await ledger.record(entry)).toEqual({ index: size });
    const path = `proof?serial=${Buffer.from(entry.serial).toString('hex')}`;
    const pending = await get(app, path);
    expect(pending.statusCode).toBe(404);
    expect(pending.headers['retry-after']).toBe('30');
    expect(JSON.parse(pending.body)).toMatchObject({
      message: 'the token is not in a signed checkpoint yet: retry in 30 s',
    });
    await sequencer.round();
    expect((await get(app, path)).statusCode).toBe(200);
  });
});
