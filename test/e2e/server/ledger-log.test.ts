import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseHashReader } from '../../../src/ledger/log-store.js';
import { openCheckpoint } from '../../../src/tlog/checkpoint.js';
import { formatHash } from '../../../src/tlog/hash.js';
import { checkTree, proveTree } from '../../../src/tlog/proof.js';
import { newTiles, tilePath, type Tile } from '../../../src/tlog/tile.js';
import { verifyTlogProof } from '../../../src/tlog/tlog-proof.js';
import { timeStampTokenOf } from '../../../src/tsp/response.js';
import { decodeResponse } from '../../helpers/decode.js';
import { buildGoTlog, goTlog, writeGoTlogDir } from '../../helpers/go-tlog.js';
import { waitUntil } from '../../helpers/poll.js';
import { ledgerServeFlags, startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { encodeRequest } from '../../helpers/requests.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-server.js';

const ORIGIN = 'tsa.test/log';
let postgres: TestPostgres;
let db: pg.Pool;
let dir: string;
let keyPath: string;
let goBin: string;
const servers: SpawnedServer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsa-log-'));
  [postgres, goBin] = await Promise.all([startPostgres(), buildGoTlog(dir)]);
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined);
  const { privateKey } = generateKeyPairSync('ed25519');
  keyPath = join(dir, 'log-key.pem');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await db?.end();
  await postgres?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<SpawnedServer> {
  const server = await spawnServer([
    ...ledgerServeFlags(postgres, keyPath, ORIGIN),
    '--ledger-checkpoint-interval',
    '200ms',
    // Anchoring tokens would be entries too (they have their own test): counts stay exact.
    '--ledger-anchor-interval',
    '0',
  ]);
  servers.push(server);
  return server;
}

interface Received {
  serial: string;
  token: Uint8Array;
  index: number;
}

async function timestamp(url: string): Promise<Received | undefined> {
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: encodeRequest({ nonce: BigInt(Math.floor(Math.random() * 1e15)) }),
  });
  const der = new Uint8Array(await response.arrayBuffer());
  const decoded = decodeResponse(der);
  if (decoded.status !== 0 || !decoded.tstInfo) return undefined;
  return {
    serial: Buffer.from(decoded.tstInfo.serialNumber.valueBlock.valueHexView).toString('hex'),
    token: timeStampTokenOf(der),
    index: Number(response.headers.get('x-log-index')),
  };
}

/** `count` requests spread over the servers, `concurrency` at a time; granted ones returned. */
async function load(urls: string[], count: number, concurrency = 16): Promise<Received[]> {
  const received: Received[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const result = await timestamp(urls[i % urls.length]!).catch(() => undefined);
        if (result) received.push(result);
      }
    }),
  );
  return received;
}

async function get(url: string): Promise<Response> {
  return fetch(url);
}

async function text(url: string): Promise<string> {
  const response = await get(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.text();
}

async function checkpointSize(url: string): Promise<number> {
  const response = await get(`${url}/api/v1/log/checkpoint`);
  if (!response.ok) return -1;
  return Number((await response.text()).split('\n')[1]);
}

async function proofOf(url: string, serial: string): Promise<string> {
  for (;;) {
    const response = await get(`${url}/api/v1/log/proof?serial=0x${serial.toUpperCase()}`);
    if (response.ok) return response.text();
    if (!response.headers.get('retry-after')) {
      throw new Error(`proof of ${serial}: ${response.status} ${await response.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('transparency log over the ledger, two server processes', () => {
  let vkey: string;
  let first: SpawnedServer;
  let second: SpawnedServer;

  it('logs 1,000 tokens from two processes once each; every proof verifies (ours and Go)', async () => {
    [first, second] = await Promise.all([start(), start()]);
    vkey = (await text(`${first.url}/api/v1/log/key`)).trim();
    expect(vkey).toBe((await text(`${second.url}/api/v1/log/key`)).trim());
    expect(vkey.startsWith(`${ORIGIN}+`)).toBe(true);

    await waitUntil(async () => (await checkpointSize(first.url)) >= 0);
    const oldCheckpoint = await text(`${first.url}/api/v1/log/checkpoint`);
    const received = await load([first.url, second.url], 1000);
    expect(received).toHaveLength(1000);
    expect(new Set(received.map((r) => r.serial)).size).toBe(1000);
    expect(new Set(received.map((r) => r.index)).size).toBe(1000);

    const { rows } = await db.query<{ n: string; serials: string; max: string }>(
      'SELECT count(*) AS n, count(DISTINCT serial) AS serials, max(log_index) FROM tsa_ledger',
    );
    expect(rows[0]).toEqual({ n: '1000', serials: '1000', max: '999' });

    await waitUntil(async () => (await checkpointSize(second.url)) >= 1000);
    const checkpoint = await text(`${second.url}/api/v1/log/checkpoint`);
    const { checkpoint: parsed } = openCheckpoint(checkpoint, vkey);
    expect(parsed.origin).toBe(ORIGIN);
    expect(parsed.size).toBe(1000);

    // Every proof, through either process, verifies with our verifier against the entry.
    const proofs = new Map<number, string>();
    for (const [i, r] of received.entries()) {
      const proof = await proofOf(i % 2 ? first.url : second.url, r.serial);
      expect(verifyTlogProof(proof, r.token, vkey, ORIGIN).index).toBe(r.index);
      proofs.set(r.index, proof.replace(/\n\n[\s\S]*$/, `\n\n${checkpoint}`));
    }

    // Consistency with the earlier checkpoint, from the stored hashes (ours), then Go's check.
    const { checkpoint: old } = openCheckpoint(oldCheckpoint, vkey);
    const consistency = old.size > 0 ? await proveTree(1000, old.size, databaseHashReader(db)) : [];
    if (old.size > 0) checkTree(consistency, 1000, parsed.hash, old.size, old.hash);

    // Go's reference code checks the same proofs, the tiles and the entry bundles.
    const tiles = new Map<string, Uint8Array>();
    // Each full tile, and the widest partial tile of each level, as a client of size 1000 reads.
    const widest = new Map<string, Tile>();
    for (const t of newTiles(8, 0, 1000)) widest.set(`${t.l}/${t.n}`, t);
    const wanted = [...widest.values()];
    for (const tile of [
      ...wanted,
      ...wanted.filter((t) => t.l === 0).map((t) => ({ ...t, l: -1 })),
    ]) {
      const response = await get(`${first.url}/api/v1/log/${tilePath(tile)}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toContain('immutable');
      // fetch asks for gzip and decodes it: Go below checks the bundles as a client reads them.
      expect(response.headers.get('content-encoding')).toBe(tile.l === -1 ? 'gzip' : null);
      tiles.set(tilePath(tile), new Uint8Array(await response.arrayBuffer()));
    }
    const goDir = join(dir, 'go-check');
    await writeGoTlogDir(goDir, {
      vkey,
      checkpoint,
      entries: new Map(received.map((r) => [r.index, r.token])),
      proofs,
      tiles,
      ...(old.size > 0
        ? { oldCheckpoint, consistency: consistency.map(formatHash).join('\n') }
        : {}),
    });
    expect(await goTlog(goBin, 'verify', goDir)).toContain('ok size=1000');
  });

  it('answers 400 for a malformed serial or tile and 404 for an unknown serial', async () => {
    expect((await get(`${first.url}/api/v1/log/proof?serial=xyz`)).status).toBe(400);
    expect((await get(`${first.url}/api/v1/log/proof`)).status).toBe(400);
    expect((await get(`${first.url}/api/v1/log/proof?serial=0x0123456789`)).status).toBe(404);
    expect((await get(`${first.url}/api/v1/log/tile/0/abc`)).status).toBe(400);
    expect((await get(`${first.url}/api/v1/log/tile/0/x999/000`)).status).toBe(404);
  });

  it('kill -9 under load: every token a client received is in the ledger and provable', async () => {
    const before = await checkpointSize(first.url);
    const loading = load([first.url], 2000, 16);
    // Killed while requests are in flight (a few hundred milliseconds into the load).
    await waitUntil(async () => {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM tsa_ledger');
      return Number(rows[0]!.n) >= before + 50;
    });
    first.child.kill('SIGKILL');
    const received = await loading;
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(2000);
    const restarted = await start();
    for (const r of received) {
      const proof = await proofOf(restarted.url, r.serial);
      expect(verifyTlogProof(proof, r.token, vkey, ORIGIN).index).toBe(r.index);
    }
    // Two checkpoints, before and after: consistent.
    const now = openCheckpoint(await text(`${second.url}/api/v1/log/checkpoint`), vkey).checkpoint;
    expect(now.size).toBeGreaterThanOrEqual(1000 + received.length);
    const { rows } = await db.query<{ root_hash: Buffer }>(
      'SELECT root_hash FROM tsa_log_checkpoints WHERE tree_size = 1000',
    );
    const proof = await proveTree(now.size, 1000, databaseHashReader(db));
    checkTree(proof, now.size, now.hash, 1000, new Uint8Array(rows[0]!.root_hash));
  });
});
