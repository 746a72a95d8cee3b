import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkTree,
  formatHash,
  hashEqual,
  openCheckpoint,
  parseEntryBundle,
  parseHash,
  proveTree,
  recordHash,
  storedHashIndex,
  TILE_HEIGHT,
  TileHasher,
  tileHashReader,
  tilePath,
  treeHash,
  verifyTlogProof,
  type Tile,
  type TileData,
  type TileReader,
} from '../../../src/tlog/index.js';
import { buildGoTlog, goTlog, writeGoTlogDir } from '../../helpers/go-tlog.js';
import { TestLog } from '../../helpers/tlog-log.js';

/**
 * Cross-checks src/tlog with Go's reference code (golang.org/x/mod/sumdb/note and tlog, built
 * offline from Debian's golang-golang-x-mod-dev): Go verifies the checkpoint, proofs, tiles and
 * entry bundles our library writes, and we verify the ones Go writes. 70,000 entries make three
 * tile levels, with full and partial tiles on each of the first two.
 */
const SIZE = 70_000;
const OLD_SIZE = 300;
const entry = (i: number): Uint8Array => new TextEncoder().encode(`entry ${i}`);
const provedIndexes = [
  0,
  1,
  255,
  256,
  65_535,
  65_536,
  SIZE - 1,
  ...[...Array(70).keys()].map((i) => i * 997),
];

let dir: string;
let bin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'go-tlog-'));
  bin = await buildGoTlog(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('our log, Go verifies', () => {
  let log: TestLog;
  let out: string;
  let oldCheckpoint: string;

  beforeAll(async () => {
    log = new TestLog('tsa.example.com/log');
    for (let i = 0; i < OLD_SIZE; i++) await log.append(entry(i));
    oldCheckpoint = await log.publish();
    for (let i = OLD_SIZE; i < SIZE; i++) await log.append(entry(i));
    await log.publish();
    out = join(dir, 'ours');
    const proofs = new Map<number, string>();
    for (const index of provedIndexes) proofs.set(index, await log.proof(index));
    await writeGoTlogDir(out, {
      vkey: log.vkey,
      checkpoint: log.signed,
      entries: new Map(provedIndexes.map((i) => [i, entry(i)])),
      proofs,
      tiles: log.tiles,
      oldCheckpoint,
      consistency: (await log.consistency(OLD_SIZE)).map((h) => `${formatHash(h)}\n`).join(''),
    });
  });

  it('note.Open, tlog.CheckRecord, tlog.TileHashReader and tlog.CheckTree accept it', async () => {
    expect(await goTlog(bin, 'verify', out)).toBe(
      `ok size=${SIZE} entries=${SIZE} proofs=${new Set(provedIndexes).size}\n`,
    );
  });

  it('Go refuses a forged checkpoint signature and a tampered entry bundle', async () => {
    const forged = log.signed.replace(
      /— (\S+) (\S{10})/,
      (_, n: string, s: string) => `— ${n} ${s.slice(0, 9)}${s[9] === 'A' ? 'B' : 'A'}`,
    );
    await writeFile(join(out, 'checkpoint'), forged);
    await expect(goTlog(bin, 'verify', out)).rejects.toThrow(/invalid signature/);
    await writeFile(join(out, 'checkpoint'), log.signed);

    const bundlePath = join(out, tilePath({ h: 8, l: -1, n: 3, w: 256 }));
    const bundle = await readFile(bundlePath);
    const tampered = Buffer.from(bundle);
    tampered[5] = tampered[5]! ^ 1;
    await writeFile(bundlePath, tampered);
    await expect(goTlog(bin, 'verify', out)).rejects.toThrow(/does not match its tile/);
    await writeFile(bundlePath, bundle);
  });
});

describe('Go log, we verify', () => {
  let out: string;

  beforeAll(async () => {
    out = join(dir, 'go');
    await goTlog(bin, 'sign', out, String(SIZE), String(OLD_SIZE), 'example.com/go-log');
  });

  it('openCheckpoint, verifyTlogProof, tileHashReader and checkTree accept it', async () => {
    const vkey = (await readFile(join(out, 'vkey'), 'utf8')).trim();
    const { checkpoint } = openCheckpoint(await readFile(join(out, 'checkpoint')), vkey);
    expect(checkpoint).toMatchObject({ origin: 'example.com/go-log', size: SIZE });

    const cache = new Map<string, Uint8Array>();
    const readTile = async (t: Tile): Promise<Uint8Array> => {
      const path = tilePath(t);
      const data = cache.get(path) ?? new Uint8Array(await readFile(join(out, path)));
      cache.set(path, data);
      return data;
    };
    const files: TileReader = {
      height: () => TILE_HEIGHT,
      readTiles: (tiles: readonly Tile[]) => Promise.all(tiles.map(readTile)),
    };
    const thr = tileHashReader({ n: checkpoint.size, hash: checkpoint.hash }, files);
    expect(hashEqual(await treeHash(SIZE, thr), checkpoint.hash)).toBe(true);

    const proofs = await readdir(join(out, 'proof'));
    expect(proofs.length).toBeGreaterThan(700);
    for (const name of proofs) {
      const proof = await readFile(join(out, 'proof', name), 'utf8');
      expect(proof).toMatch(/^c2sp\.org\/tlog-proof@v1\nextra Z28=\n/);
      const data = await readFile(join(out, 'entry', name));
      expect(verifyTlogProof(proof, data, vkey).index).toBe(Number(name));
      expect(() => verifyTlogProof(proof, entry(Number(name) + 1), vkey)).toThrow();
    }

    // Every entry of every bundle is the leaf its level-0 tile holds; and our TileHasher, fed the
    // entries in order (as log-audit does), recomputes every tile Go wrote and the root Go signed.
    const hasher = new TileHasher(TILE_HEIGHT);
    const recomputed: TileData[] = [];
    for (let n = 0; n * 256 < SIZE; n++) {
      const w = Math.min(256, SIZE - n * 256);
      const bundle = parseEntryBundle(await readFile(join(out, tilePath({ h: 8, l: -1, n, w }))));
      expect(bundle).toHaveLength(w);
      const leaves = await thr.readHashes(bundle.map((_, i) => storedHashIndex(0, n * 256 + i)));
      const mismatched = bundle.filter((e, i) => !hashEqual(leaves[i]!, recordHash(e)));
      expect(mismatched).toHaveLength(0);
      for (const e of bundle) recomputed.push(...hasher.append(e));
    }
    recomputed.push(...hasher.partialTiles());
    expect(hashEqual(hasher.treeHash(), checkpoint.hash)).toBe(true);
    // 273 full and 1 partial at level 0, 1 full and 1 partial at level 1, 1 partial at level 2.
    expect(recomputed.map(({ tile }) => tilePath(tile)).slice(-3)).toEqual([
      'tile/0/273.p/112',
      'tile/1/001.p/17',
      'tile/2/000.p/1',
    ]);
    expect(recomputed).toHaveLength(273 + 1 + 1 + 1 + 1);
    for (const { tile, data } of recomputed) {
      const goTile = await readFile(join(out, tilePath(tile)));
      expect(goTile.equals(data), tilePath(tile)).toBe(true);
    }

    const old = openCheckpoint(await readFile(join(out, 'old-checkpoint')), vkey).checkpoint;
    const goProof = (await readFile(join(out, 'consistency'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map(parseHash);
    checkTree(goProof, checkpoint.size, checkpoint.hash, old.size, old.hash);
    const ours = await proveTree(checkpoint.size, old.size, thr);
    expect(ours.map(formatHash)).toEqual(goProof.map(formatHash));
  });
});
