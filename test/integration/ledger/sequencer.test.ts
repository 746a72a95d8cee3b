import { generateKeyPairSync } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import {
  COUNTER_BEHIND,
  COUNTER_BEHIND_LOG,
  type LedgerLogger,
} from '../../../src/ledger/ledger.js';
import { LogReader } from '../../../src/ledger/log-reader.js';
import type { StoredCheckpoint } from '../../../src/ledger/log-store.js';
import { watchLog } from '../../../src/ledger/ledger-metrics.js';
import { openProcessLedger } from '../../../src/ledger/process-ledger.js';
import { MAX_INTEGRATE, Sequencer } from '../../../src/ledger/sequencer.js';
import { registry } from '../../../src/metrics/registry.js';
import { storedHashIndex } from '../../../src/tlog/hash.js';
import {
  newEd25519KeySigner,
  newEd25519Signer,
  verifierKey,
  type NoteSigner,
} from '../../../src/tlog/note.js';
import { randomLedgerEntry } from '../../helpers/ledger-entry.js';
import {
  insertLedgerRows,
  openTestLedger,
  recordingLedgerLogger,
  resetLedgerSchema,
} from '../../helpers/ledger-db.js';
import { writeLedgerKey } from '../../helpers/ledger-key.js';
import { waitUntil } from '../../helpers/poll.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

// What the sequencer refuses to sign or publish, and how a ledger restored apart from the log
// (a partial restore: tsa_ledger and its counter older than tsa_log_*) is refused.

let postgres: TestPostgres;
let db: pg.Pool;

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 4 });
  db.on('error', () => undefined);
});
afterAll(async () => {
  await db?.end();
  await postgres?.destroy();
});

const ORIGIN = 'tsa.test/log';

const recordingLogger = recordingLedgerLogger;
const openLedger = (logger?: LedgerLogger) => openTestLedger(postgres.url, logger);
const resetSchema = () => resetLedgerSchema(db);

/** A sequencer on its own one-connection pool, its WARN lines recorded. */
function newSequencer(
  options: {
    key?: ReturnType<typeof generateKeyPairSync>;
    signer?: NoteSigner;
    onCheckpoint?: (checkpoint: StoredCheckpoint) => void;
  } = {},
) {
  const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
  pool.on('error', () => undefined);
  const { privateKey, publicKey } = options.key ?? generateKeyPairSync('ed25519');
  const { logger, warnings } = recordingLogger();
  const signed: StoredCheckpoint[] = [];
  const sequencer = new Sequencer(pool, {
    signer: options.signer ?? newEd25519Signer(ORIGIN, privateKey),
    origin: ORIGIN,
    verifierKey: verifierKey(ORIGIN, publicKey),
    intervalMs: 60_000,
    logger,
    onCheckpoint: (checkpoint) => {
      signed.push(checkpoint);
      options.onCheckpoint?.(checkpoint);
    },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await sequencer.stop();
    await pool.end();
  };
  return { sequencer, pool, warnings, signed, close };
}

async function refusals(reason: string): Promise<number> {
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_log_sequencer_refusals_total',
  );
  const line = text.split('\n').find((l) => l.includes(`reason="${reason}"`));
  return Number(line!.split(' ').pop());
}

/** The age the last round measured (its gauge registered here: only start() registers it). */
async function unintegratedAge(): Promise<number> {
  watchLog();
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_log_unintegrated_age_seconds',
  );
  return Number(/^timestamp_authority_log_unintegrated_age_seconds (\S+)$/m.exec(text)![1]);
}

async function checkpointSizes(): Promise<number[]> {
  const { rows } = await db.query<{ tree_size: string }>(
    'SELECT tree_size FROM tsa_log_checkpoints ORDER BY tree_size',
  );
  return rows.map((row) => Number(row.tree_size));
}

/**
 * tsa_ledger and its counter as an older backup had them, `kept` rows, while the log's tables
 * stay as they are (a partial restore).
 */
async function restoreLedgerOnly(kept: number) {
  await db.query('DELETE FROM tsa_ledger WHERE log_index >= $1', [kept]);
  await db.query('UPDATE tsa_ledger_counter SET next_index = $1', [kept]);
}

describe('a ledger restored apart from the log (partial restore)', () => {
  it("refuses to start with a counter row behind the log's latest checkpoint", async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3]);
    } finally {
      await close();
      await ledger.close();
    }
    await restoreLedgerOnly(1);
    // The counter (1) is after the last log index (0): only the checkpoint shows the restore.
    await expect(openLedger()).rejects.toMatchObject({
      code: 'INCONSISTENT',
      message: expect.stringMatching(
        /next_index \(1\) is behind the log's latest checkpoint \(tree size 3\)/,
      ),
    });
  });

  it("refuses a counter one short of the log's latest checkpoint, at open and on the probe", async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      expect(ledger.unavailableReason()).toBeUndefined();
      // The counter (2) is after the last log index (1), and one short of the tree size (3).
      await restoreLedgerOnly(2);
      // The second probe from now began after the restore (the first may have read before it).
      const probes = ledger.probes;
      await waitUntil(() => ledger.probes > probes + 1);
      expect(ledger.unavailableReason()).toBe(COUNTER_BEHIND_LOG);
    } finally {
      await close();
      await ledger.close();
    }
    await expect(openLedger()).rejects.toMatchObject({
      code: 'INCONSISTENT',
      message: expect.stringMatching(
        /next_index \(2\) is behind the log's latest checkpoint \(tree size 3\)/,
      ),
    });
  });

  it('commits no token at an index a checkpoint holds, even before the probe runs', async () => {
    await resetSchema();
    const { logger, warnings } = recordingLogger();
    const ledger = await openLedger(logger);
    const { sequencer, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      await restoreLedgerOnly(1);
      // The commit itself refuses: the token is withheld, and issuance with it.
      await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: COUNTER_BEHIND_LOG,
      });
      expect(ledger.unavailableReason()).toBe(COUNTER_BEHIND_LOG);
      expect(ledger.unavailableIsTemporary()).toBe(false);
      expect(warnings.map((w) => w.message)).toContain(
        `${COUNTER_BEHIND_LOG}: refusing issuance until it is repaired`,
      );
      const { rows } = await db.query<{ rows: string; next: string }>(
        'SELECT (SELECT count(*) FROM tsa_ledger) AS rows, (SELECT next_index FROM tsa_ledger_counter) AS next',
      );
      expect(rows[0]).toEqual({ rows: '1', next: '1' });
    } finally {
      await close();
      await ledger.close();
    }
  });

  it('names a missing counter row as such when a commit finds it gone, not as behind the log', async () => {
    await resetSchema();
    const ledger = await openLedger();
    try {
      await ledger.record(randomLedgerEntry());
      await db.query('DELETE FROM tsa_ledger_counter');
      await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: COUNTER_BEHIND,
      });
      expect(ledger.unavailableReason()).toBe(COUNTER_BEHIND);
    } finally {
      await ledger.close();
    }
  });

  it('refuses issuance as a fault once the probe finds it, until the counter is repaired', async () => {
    await resetSchema();
    const { logger, warnings } = recordingLogger();
    const processLedger = (await openProcessLedger(
      resolveServeConfig({
        ledgerUrl: postgres.urlWithoutPassword,
        ledgerPasswordFile: postgres.passwordFile,
        ledgerKey: writeLedgerKey(postgres.dir, 'log-key.pem'),
        ledgerOrigin: ORIGIN,
        ledgerCheckpointInterval: '1h',
      }),
      logger,
    ))!;
    try {
      for (let i = 0; i < 3; i++) await processLedger.ledger.record(randomLedgerEntry());
      await processLedger.log!.sequencer.round();
      // (The sequencer's first round, at start, may have signed a smaller one.)
      expect((await checkpointSizes()).at(-1)).toBe(3);
      await restoreLedgerOnly(1);
      await waitUntil(() => processLedger.ledger.unavailableReason() !== undefined);
      expect(processLedger.ledger.unavailableReason()).toBe(COUNTER_BEHIND_LOG);
      // A fault (500, /readyz red with the reason): it takes a repair, not a retry.
      expect(processLedger.guard()).toMatchObject({
        failInfo: 'systemFailure',
        detail: COUNTER_BEHIND_LOG,
      });
      expect(processLedger.ledger.unavailableIsTemporary()).toBe(false);
      await expect(processLedger.ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: COUNTER_BEHIND_LOG,
      });
      expect(warnings.map((w) => w.message)).toContain(
        `${COUNTER_BEHIND_LOG}: refusing issuance until it is repaired`,
      );
      // The counter set past the checkpoint: issuance resumes, at the checkpoint's size.
      await db.query('UPDATE tsa_ledger_counter SET next_index = 3');
      await waitUntil(() => processLedger.ledger.unavailableReason() === undefined);
      expect(await processLedger.ledger.record(randomLedgerEntry())).toEqual({ index: 3 });
    } finally {
      await processLedger[Symbol.asyncDispose]();
    }
  });

  it('never signs over entries it did not integrate: new tokens at indexes a checkpoint holds', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, warnings, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      await ledger.record(randomLedgerEntry());
      await sequencer.round();
      // Intact, the last entry of the previous checkpoint checks out.
      expect(await checkpointSizes()).toEqual([3, 4]);
      expect(warnings).toEqual([]);

      // Restored to 1 row; rows written at 1, 2, 3 and 4 (by hand,
      // or by a server older than the commit's own check).
      await restoreLedgerOnly(1);
      await insertLedgerRows(db, 1, 4);
      const before = await refusals('ledger_mismatch');
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3, 4]);
      expect(await refusals('ledger_mismatch')).toBe(before + 1);
      expect(warnings).toEqual([
        {
          message: 'transparency log sequencer round failed',
          fields: {
            reason: expect.stringMatching(
              /log index 3, the last entry of the checkpoint of size 4, is not the entry the checkpoint holds/,
            ),
          },
        },
      ]);

      // Rows from an older backup and the counter past the checkpoint: index 3 is missing.
      await restoreLedgerOnly(1);
      await db.query('UPDATE tsa_ledger_counter SET next_index = 4');
      await insertLedgerRows(db, 4, 1);
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3, 4]);
      expect(await refusals('ledger_mismatch')).toBe(before + 2);
      expect(warnings[1]?.fields.reason).toMatch(
        /log index 3, the last entry of the checkpoint of size 4, is missing/,
      );
    } finally {
      await close();
      await ledger.close();
    }
  });

  it("serves no proof nor entry bundle for tokens that took the places of the log's entries", async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, close } = newSequencer();
    const reader = new LogReader(db);
    const serialAt = async (index: number) =>
      (
        await db.query<{ serial: Buffer }>('SELECT serial FROM tsa_ledger WHERE log_index = $1', [
          index,
        ])
      ).rows[0]!.serial;
    const bundle = { h: 8, l: -1, n: 0, w: 3 };
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      expect(await reader.proof(await serialAt(1))).toMatchObject({ found: true });
      expect(await reader.tile(bundle)).toMatchObject({ found: true });
      // Restored to 1 row; rows written at 1 and 2 (by hand, or by a
      // server older than the commit's own check).
      await restoreLedgerOnly(1);
      await insertLedgerRows(db, 1, 2);
      await expect(reader.proof(await serialAt(1))).rejects.toMatchObject({
        code: 'INCONSISTENT',
        message: "the ledger's token at log index 1 is not the log's entry there: proof not served",
      });
      await expect(reader.tile(bundle)).rejects.toMatchObject({
        code: 'INCONSISTENT',
        message:
          "the ledger's tokens at log indexes 0 to 2 are not the log's entries: entry bundle not served",
      });
      // Entry 0 is the log's still.
      expect(await reader.proof(await serialAt(0))).toMatchObject({ found: true });
      expect(await reader.tile({ ...bundle, w: 1 })).toMatchObject({ found: true });
      // A row missing from a bundle is refused too, not served short.
      await db.query('DELETE FROM tsa_ledger WHERE log_index >= 1');
      await expect(reader.tile({ ...bundle, w: 2 })).rejects.toMatchObject({
        code: 'INCONSISTENT',
      });
    } finally {
      await close();
      await ledger.close();
    }
  });

  it('blames the stored hashes, not the ledger, when they no longer prove the last entry', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, warnings, close } = newSequencer();
    try {
      for (let i = 0; i < 4; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      // The leaf hash of entry 3: the root of size 4 is read from a level-2 hash, never from it.
      await db.query('UPDATE tsa_log_hashes SET hash = sha256(hash) WHERE hash_index = $1', [
        storedHashIndex(0, 3),
      ]);
      await ledger.record(randomLedgerEntry());
      const inconsistent = await refusals('inconsistent');
      const mismatch = await refusals('ledger_mismatch');
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([4]);
      expect(await refusals('inconsistent')).toBe(inconsistent + 1);
      expect(await refusals('ledger_mismatch')).toBe(mismatch);
      expect(warnings.map((w) => w.fields.reason)).toEqual([
        'stored hashes no longer prove entry 3 of the checkpoint of size 4: not signing',
      ]);
    } finally {
      await close();
      await ledger.close();
    }
  });
});

describe('the log tables changed by hand', () => {
  it('refuses a gap among the ledger rows to integrate, and signs nothing', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, warnings, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await db.query('DELETE FROM tsa_ledger WHERE log_index = 4');
      const before = await refusals('ledger_gap');
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3]);
      expect(warnings.map((w) => w.fields.reason)).toEqual(['ledger index 4 is missing']);
      expect(await refusals('ledger_gap')).toBe(before + 1);
    } finally {
      await close();
      await ledger.close();
    }
  });

  it('shows a gap right after the latest checkpoint in both alert metrics, not as none waiting', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, warnings, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      // The row at the checkpoint's size is gone; the ones after it have waited an hour (their
      // time set back, rather than waited for).
      await db.query('DELETE FROM tsa_ledger WHERE log_index = 3');
      await db.query(
        "UPDATE tsa_ledger SET recorded_at = now() - interval '1 hour' WHERE log_index > 3",
      );
      const before = await refusals('ledger_gap');
      await sequencer.round();
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3]);
      // Logged once (reminded every 5 minutes while it lasts), counted each round.
      expect(warnings.map((w) => w.fields.reason)).toEqual(['ledger index 3 is missing']);
      expect(await refusals('ledger_gap')).toBe(before + 2);
      expect(await unintegratedAge()).toBeGreaterThanOrEqual(3600);
    } finally {
      await close();
      await ledger.close();
    }
  });

  it("refuses a stored root hash that is not the latest checkpoint's signed one", async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, warnings, close } = newSequencer();
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      // Only the unsigned column: the note still verifies, and says another root.
      await db.query('UPDATE tsa_log_checkpoints SET root_hash = sha256(root_hash)');
      await ledger.record(randomLedgerEntry());
      const before = await refusals('inconsistent');
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([3]);
      expect(await refusals('inconsistent')).toBe(before + 1);
      expect(warnings.map((w) => w.fields.reason)).toEqual([
        'the stored size or root hash of the checkpoint of size 3 is not what its signed note says: not signing',
      ]);
    } finally {
      await close();
      await ledger.close();
    }
  });
});

describe('partial tiles', () => {
  it('serve the same bytes at the same path as the log grows: the full tile starts with them', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const { sequencer, close } = newSequencer();
    const reader = new LogReader(db);
    const read = async (tile: { h: number; l: number; n: number; w: number }) => {
      const result = await reader.tile(tile);
      if (!result.found) throw new Error(`tile ${JSON.stringify(tile)} not found`);
      return Buffer.from(result.value);
    };
    try {
      for (let i = 0; i < 3; i++) await ledger.record(randomLedgerEntry());
      await sequencer.round();
      const hashes = await read({ h: 8, l: 0, n: 0, w: 3 });
      const bundle = await read({ h: 8, l: -1, n: 0, w: 3 });
      await insertLedgerRows(db, 3, 300);
      await sequencer.round();
      expect(await read({ h: 8, l: 0, n: 0, w: 3 })).toEqual(hashes);
      expect(await read({ h: 8, l: -1, n: 0, w: 3 })).toEqual(bundle);
      const full = await read({ h: 8, l: 0, n: 0, w: 256 });
      expect(full.subarray(0, hashes.length)).toEqual(hashes);
      const fullBundle = await read({ h: 8, l: -1, n: 0, w: 256 });
      expect(fullBundle.subarray(0, bundle.length)).toEqual(bundle);
    } finally {
      await close();
      await ledger.close();
    }
  });
});

describe('the sequencer checks the checkpoint it signed before publishing it', () => {
  it("publishes nothing that does not verify with the log's key, and counts it", async () => {
    await resetSchema();
    const ledger = await openLedger();
    const key = generateKeyPairSync('ed25519');
    // --ledger-key's public key is `key`'s, its signatures another key's (a PKCS#11 token whose
    // public-key object is not the private key's pair).
    const other = newEd25519Signer(ORIGIN, generateKeyPairSync('ed25519').privateKey);
    const mismatched = newSequencer({
      key,
      signer: newEd25519KeySigner(ORIGIN, key.publicKey, async (msg) => other.sign(msg)),
    });
    const good = newSequencer({ key });
    try {
      await ledger.record(randomLedgerEntry());
      const before = await refusals('bad_signature');
      await mismatched.sequencer.round();
      expect(await checkpointSizes()).toEqual([]);
      expect(mismatched.signed).toEqual([]);
      expect(await refusals('bad_signature')).toBe(before + 1);
      expect(mismatched.warnings).toEqual([
        {
          message: 'transparency log sequencer round failed',
          fields: {
            reason: expect.stringMatching(
              /the checkpoint of size 1 just signed does not verify with the log's verifier key/,
            ),
          },
        },
      ]);
      // Nothing was stored (the round's stored hashes neither): a signer that works goes on.
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tsa_log_hashes',
      );
      expect(rows[0]!.n).toBe(0);
      await mismatched.close();
      await good.sequencer.round();
      expect(await checkpointSizes()).toEqual([1]);
      expect(good.warnings).toEqual([]);
    } finally {
      await mismatched.close();
      await good.close();
      await ledger.close();
    }
  });
});

describe("the sequencer's lock session lost mid-backlog", () => {
  it('ends the round with the error that lost it, and the next round goes on', async () => {
    await resetSchema();
    await (await openLedger()).close();
    await insertLedgerRows(db, 0, MAX_INTEGRATE + 1);
    let lockClient: pg.PoolClient | undefined;
    let lost = false;
    const { sequencer, pool, warnings, signed, close } = newSequencer({
      // After the first slice of the backlog commits, the idle lock connection fails (as pg
      // reports a connection cut between queries).
      onCheckpoint: () => {
        if (lost) return;
        lost = true;
        lockClient!.emit('error', new Error('Connection terminated unexpectedly'));
      },
    });
    pool.on('acquire', (client) => {
      lockClient ??= client;
    });
    try {
      await sequencer.round();
      expect(signed.map((c) => c.size)).toEqual([MAX_INTEGRATE]);
      expect(sequencer.leader).toBe(false);
      expect(warnings).toEqual([
        {
          message: 'transparency log sequencer round failed',
          fields: {
            reason:
              "the sequencer's database session was lost, and the lock with it: " +
              'Connection terminated unexpectedly',
          },
        },
      ]);
      await sequencer.round();
      expect(await checkpointSizes()).toEqual([MAX_INTEGRATE, MAX_INTEGRATE + 1]);
    } finally {
      await close();
    }
  });
});
