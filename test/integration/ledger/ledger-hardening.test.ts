import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { poolConfig } from '../../../src/ledger/connection.js';
import {
  COMMITS_FAIL,
  COUNTER_BEHIND,
  Ledger,
  LEDGER_BUSY,
  LOGIN_REFUSED,
  MAX_PENDING,
  READ_ONLY,
  type LedgerLogger,
} from '../../../src/ledger/ledger.js';
import { openProcessLedger, READ_POOL_SIZE } from '../../../src/ledger/process-ledger.js';
import { Sequencer } from '../../../src/ledger/sequencer.js';
import { registry } from '../../../src/metrics/registry.js';
import { newEd25519Signer, verifierKey } from '../../../src/tlog/note.js';
import { writeLedgerKey } from '../../helpers/ledger-key.js';
import { randomLedgerEntry } from '../../helpers/ledger-entry.js';
import {
  openTestLedger,
  recordingLedgerLogger,
  resetLedgerSchema,
} from '../../helpers/ledger-db.js';
import { waitUntil } from '../../helpers/poll.js';
import { lookupsKnowing } from '../../helpers/named-lookups.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { tempDir } from '../../helpers/openssl.js';
import { selfSignedTls } from '../../fakes/tls.js';

let postgres: TestPostgres;
let db: pg.Pool;

/** The name the database's certificate is for (its clients resolve it with a resolver of their own). */
const DATABASE_NAME = 'ledger-db.test';
const databaseTls = selfSignedTls(DATABASE_NAME);

beforeAll(async () => {
  postgres = await startPostgres({ tls: databaseTls });
  db = new pg.Pool({ connectionString: postgres.url, max: 4 });
  db.on('error', () => undefined);
});
afterAll(async () => {
  await db?.end();
  await postgres?.destroy();
});

const recordingLogger = recordingLedgerLogger;
const openLedger = (logger?: LedgerLogger, url = postgres.url) => openTestLedger(url, logger);
const resetSchema = () => resetLedgerSchema(db);

/** Whether a promise has settled, without waiting for it. */
function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

describe('ledger: group commit queue', () => {
  it('commits a record() made as soon as the previous one resolved (none stranded)', async () => {
    const ledger = await openLedger();
    await ledger.record(randomLedgerEntry());
    // In the continuation of the resolved record: the flush loop has just found its queue empty,
    // and this record() must start a new one.
    const second = ledger.record(randomLedgerEntry());
    const isSettled = settled(second);
    // close() waits for the queue: a stranded record would still be pending after it.
    await ledger.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(isSettled()).toBe(true);
    await expect(second).resolves.toEqual({ index: expect.any(Number) });
  });
});

/** Transactions of the 'tsa' database so far (the probe's among them). */
async function transactions(): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = 'tsa'",
  );
  return Number(rows[0]!.n);
}

/** Until the database has seen a few more transactions: the ledger's probe has run since. */
async function probesRun(): Promise<void> {
  const before = await transactions();
  await waitUntil(async () => (await transactions()) > before + 3);
}

describe('ledger: the counter row', () => {
  it('seeds a missing counter row after the last log index', async () => {
    await resetSchema();
    let ledger = await openLedger();
    await Promise.all([
      ledger.record(randomLedgerEntry()),
      ledger.record(randomLedgerEntry()),
      ledger.record(randomLedgerEntry()),
    ]);
    await ledger.close();
    await db.query('DELETE FROM tsa_ledger_counter');
    ledger = await openLedger();
    try {
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: 3 });
    } finally {
      await ledger.close();
    }
  });

  it('refuses to start with a counter row behind the last log index', async () => {
    await db.query('UPDATE tsa_ledger_counter SET next_index = 2');
    await expect(openLedger()).rejects.toMatchObject({
      code: 'INCONSISTENT',
      message: expect.stringMatching(/next_index \(2\) is not after the last log index \(3\)/),
    });
    await db.query('UPDATE tsa_ledger_counter SET next_index = 4');
  });

  it('fails the record and refuses issuance when the counter falls behind (no endless retry)', async () => {
    const { logger, warnings } = recordingLogger();
    const ledger = await openLedger(logger);
    try {
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: 4 });
      await db.query('UPDATE tsa_ledger_counter SET next_index = 1');
      await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: expect.stringMatching(/log index is already taken/),
      });
      expect(ledger.unavailableReason()).toBe(COUNTER_BEHIND);
      expect(warnings.map((w) => w.message)).toContain(
        `${COUNTER_BEHIND}: refusing issuance until it is repaired`,
      );
      // The probe keeps it refused (the database answers, but the counter is still behind).
      await probesRun();
      expect(ledger.unavailableReason()).toBe(COUNTER_BEHIND);
      // Repaired: issuance resumes after the next probe.
      await db.query('UPDATE tsa_ledger_counter SET next_index = 5');
      await waitUntil(() => ledger.unavailableReason() === undefined);
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: 5 });
    } finally {
      await ledger.close();
    }
  });
});

async function openProcess(
  logger: LedgerLogger,
  flags: Partial<Record<ServeOptionName, unknown>> = {},
) {
  const processLedger = await openProcessLedger(
    resolveServeConfig({
      ledgerUrl: postgres.urlWithoutPassword,
      ledgerPasswordFile: postgres.passwordFile,
      ledgerKey: writeLedgerKey(postgres.dir, 'log-key.pem'),
      ledgerOrigin: 'tsa.test/log',
      ledgerCheckpointInterval: '1h',
      ...flags,
    }),
    logger,
  );
  return processLedger!;
}

describe("ledger: the log's public reads", () => {
  it('never counts waiting for a free pool connection as the database down', async () => {
    const { logger, warnings } = recordingLogger();
    const ledger = await Ledger.open(await poolConfig(postgres.url, '', 1), logger);
    const held = await ledger.pool.connect();
    try {
      // The pool's one connection is busy: the commit's checkout times out (CONNECT_TIMEOUT_MS).
      await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: expect.stringMatching(/busy/),
      });
      expect(ledger.unavailableReason()).toBeUndefined();
      expect(warnings).toEqual([]);
    } finally {
      held.release();
      await ledger.close();
    }
  });

  it('refuses reads beyond their own pool (BUSY) while tokens still commit and /readyz stays up', async () => {
    await resetSchema();
    const { logger, warnings } = recordingLogger();
    const processLedger = await openProcess(logger);
    const locker = await db.connect();
    try {
      await processLedger.ledger.record(randomLedgerEntry());
      await processLedger.log!.sequencer.round();
      // Every read of a hash tile waits on this lock (a slow query, as many as come); commits
      // never read the log's hashes (they do read tsa_log_checkpoints: not that table's lock).
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tsa_log_hashes IN ACCESS EXCLUSIVE MODE');
      const firstTile = { h: 8, l: 0, n: 0, w: 1 };
      const read = () =>
        processLedger.log!.reader.tile(firstTile).then(
          () => 'read',
          (error: { code?: string }) => error.code ?? 'other',
        );
      // As many reads as the pool has connections, each held at the lock ...
      const held = Array.from({ length: READ_POOL_SIZE }, read);
      await waitUntil(async () => {
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'tsa_log_hashes'::regclass " +
            'AND NOT granted',
        );
        return rows[0]!.n >= READ_POOL_SIZE;
      });
      // ... then more, which queue for a connection; tokens still commit.
      const beyond = Array.from({ length: 30 }, read);
      const receipts = await Promise.all(
        Array.from({ length: 10 }, () => processLedger.ledger.record(randomLedgerEntry())),
      );
      expect(receipts).toHaveLength(10);
      const outcomes = await Promise.all(beyond);
      // Beyond the pool's connections: refused as busy, not as the database down.
      expect(new Set(outcomes)).toEqual(new Set(['BUSY']));
      expect(processLedger.guard()).toBeUndefined();
      expect(processLedger.ledger.unavailableReason()).toBeUndefined();
      expect(warnings).toEqual([]);
      await locker.query('ROLLBACK');
      expect(await Promise.all(held)).toEqual(Array(READ_POOL_SIZE).fill('read'));
      expect(await processLedger.log!.reader.tile(firstTile)).toMatchObject({ found: true });
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
      await processLedger[Symbol.asyncDispose]();
    }
  });
});

function newSequencer(
  pool: pg.Pool,
  options: { leaseMs?: number; origin?: string; key?: ReturnType<typeof generateKeyPairSync> } = {},
) {
  const origin = options.origin ?? 'tsa.test/log';
  const warnings: string[] = [];
  const { privateKey, publicKey } = options.key ?? generateKeyPairSync('ed25519');
  const sequencer = new Sequencer(pool, {
    signer: newEd25519Signer(origin, privateKey),
    origin,
    verifierKey: verifierKey(origin, publicKey),
    intervalMs: 60_000,
    logger: { info: () => undefined, warn: (_fields, message) => void warnings.push(message) },
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
  });
  return { sequencer, warnings };
}

async function unintegratedAge(): Promise<number> {
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_log_unintegrated_age_seconds',
  );
  return Number(/^timestamp_authority_log_unintegrated_age_seconds (\S+)$/m.exec(text)![1]);
}

async function refusals(reason: string): Promise<number> {
  const text = await registry.getSingleMetricAsString(
    'timestamp_authority_log_sequencer_refusals_total',
  );
  const line = text.split('\n').find((l) => l.includes(`reason="${reason}"`));
  return Number(line!.split(' ').pop());
}

async function checkpointCount(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM tsa_log_checkpoints',
  );
  return rows[0]!.n;
}

describe('ledger: the sequencer', () => {
  it('refuses to sign over a checkpoint of another key or origin (the log keeps its identity)', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    pool.on('error', () => undefined);
    const first = newSequencer(pool);
    const otherKey = newSequencer(pool);
    const otherOrigin = newSequencer(pool, { origin: 'other.test/log' });
    try {
      await ledger.record(randomLedgerEntry());
      await first.sequencer.round();
      await first.sequencer.stop();
      expect(await checkpointCount()).toBe(1);
      await ledger.record(randomLedgerEntry());
      for (const other of [otherKey, otherOrigin]) {
        const before = await refusals('foreign_checkpoint');
        await other.sequencer.round();
        await other.sequencer.stop();
        expect(other.warnings).toEqual(['transparency log sequencer round failed']);
        expect(await refusals('foreign_checkpoint')).toBe(before + 1);
      }
      expect(await checkpointCount()).toBe(1);
    } finally {
      await pool.end();
      await ledger.close();
    }
  });

  it('takes the previous root from the signed note, never from the unsigned column', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    pool.on('error', () => undefined);
    const { sequencer, warnings } = newSequencer(pool);
    try {
      await ledger.record(randomLedgerEntry());
      await sequencer.round();
      expect(await checkpointCount()).toBe(1);
      // The stored tree is rewritten, and the checkpoint's root_hash column with it: the stored
      // hashes agree with the column, not with the signed note.
      await db.query('UPDATE tsa_log_hashes SET hash = sha256(hash)');
      await db.query('UPDATE tsa_log_checkpoints SET root_hash = sha256(root_hash)');
      await ledger.record(randomLedgerEntry());
      const before = await refusals('inconsistent');
      await sequencer.round();
      expect(warnings).toEqual(['transparency log sequencer round failed']);
      expect(await refusals('inconsistent')).toBe(before + 1);
      expect(await checkpointCount()).toBe(1);
    } finally {
      await sequencer.stop();
      await pool.end();
      await ledger.close();
    }
  });

  it('hands the log over when the sequencer freezes (a lease on its session), and shows the lag', async () => {
    await resetSchema();
    const ledger = await openLedger();
    const poolA = new pg.Pool({ connectionString: postgres.url, max: 1 });
    const poolB = new pg.Pool({ connectionString: postgres.url, max: 1 });
    poolA.on('error', () => undefined);
    poolB.on('error', () => undefined);
    // Two replicas of one log: the same key.
    const key = generateKeyPairSync('ed25519');
    const a = newSequencer(poolA, { leaseMs: 1_000, key });
    const b = newSequencer(poolB, { leaseMs: 1_000, key });
    try {
      await ledger.record(randomLedgerEntry());
      await a.sequencer.round();
      expect(a.sequencer.leader).toBe(true);
      // A freezes (SIGSTOP, a partition): it runs no more rounds, its session holds the lock.
      await ledger.record(randomLedgerEntry());
      await b.sequencer.round();
      expect(b.sequencer.leader).toBe(false);
      // Every replica sees an entry waiting for a checkpoint.
      expect(await unintegratedAge()).toBeGreaterThan(0);
      // PostgreSQL ends A's idle session after the lease: B takes over and signs.
      await waitUntil(async () => {
        await b.sequencer.round();
        return b.sequencer.leader;
      });
      const { rows } = await db.query<{ size: string }>(
        'SELECT max(tree_size) AS size FROM tsa_log_checkpoints',
      );
      expect(Number(rows[0]!.size)).toBe(2);
      expect(await unintegratedAge()).toBe(0);
    } finally {
      await a.sequencer.stop();
      await b.sequencer.stop();
      await poolA.end();
      await poolB.end();
      await ledger.close();
    }
  });
});

describe('ledger: schema', () => {
  it('restarts as a user with SELECT, INSERT and UPDATE only (no CREATE on the schema)', async () => {
    await resetSchema();
    const owner = await openLedger();
    await owner.record(randomLedgerEntry());
    await owner.close();
    await db.query('DROP ROLE IF EXISTS tsa_app');
    await db.query("CREATE ROLE tsa_app LOGIN PASSWORD 'app-password'");
    await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await db.query('GRANT USAGE ON SCHEMA public TO tsa_app');
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_app');
    const ledger = await openLedger(
      recordingLogger().logger,
      `postgres://tsa_app:app-password@127.0.0.1:${postgres.port}/tsa`,
    );
    try {
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: 1 });
    } finally {
      await ledger.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_app');
      await db.query('REVOKE ALL ON SCHEMA public FROM tsa_app');
      await db.query('DROP ROLE tsa_app');
    }
  });
});

describe('ledger: --ledger-password-file', () => {
  it('reads the password file at each new connection (a rotated Secret needs no restart)', async () => {
    const file = join(postgres.dir, 'rotating-password');
    await (await openLedger()).close(); // the tables, made by their owner
    await db.query('DROP ROLE IF EXISTS tsa_rot');
    await db.query("CREATE ROLE tsa_rot LOGIN PASSWORD 'old-password'");
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_rot');
    writeFileSync(file, 'old-password\n');
    const { logger } = recordingLogger();
    const ledger = await Ledger.open(
      await poolConfig(`postgres://tsa_rot@127.0.0.1:${postgres.port}/tsa`, file, 2),
      logger,
    );
    try {
      await ledger.record(randomLedgerEntry());
      // The Secret is rotated: a new password in the database and in the file; connections end.
      await db.query("ALTER ROLE tsa_rot PASSWORD 'new-password'");
      writeFileSync(file, 'new-password\n');
      await db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'tsa_rot'",
      );
      // The next commits reconnect (the first may meet a terminated connection).
      await waitUntil(async () =>
        ledger.record(randomLedgerEntry()).then(
          () => true,
          () => false,
        ),
      );
      await waitUntil(() => ledger.unavailableReason() === undefined);
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: expect.any(Number) });
    } finally {
      await ledger.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_rot');
      await db.query('DROP ROLE tsa_rot');
    }
  });
});

describe('ledger: a read-only database', () => {
  it('stays refused while the database takes no writes (no flapping), and recovers', async () => {
    await (await openLedger()).close(); // the tables, made by their owner
    await db.query('DROP ROLE IF EXISTS tsa_ro');
    await db.query("CREATE ROLE tsa_ro LOGIN PASSWORD 'ro-password'");
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_ro');
    const { logger, infos } = recordingLogger();
    const ledger = await openLedger(
      logger,
      `postgres://tsa_ro:ro-password@127.0.0.1:${postgres.port}/tsa`,
    );
    const sessions = async () => {
      await db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'tsa_ro'",
      );
    };
    try {
      await ledger.record(randomLedgerEntry());
      // A failover left the URL on a database that answers but takes no writes.
      await db.query('ALTER ROLE tsa_ro SET default_transaction_read_only = on');
      await sessions();
      await waitUntil(async () =>
        ledger.record(randomLedgerEntry()).then(
          () => false,
          () => ledger.unavailableReason() === READ_ONLY,
        ),
      );
      // Probes answer (SELECT works) but keep issuance refused: never 'available again'.
      await probesRun();
      expect(ledger.unavailableReason()).toBe(READ_ONLY);
      expect(infos).not.toContain('ledger database available again: issuing');
      await db.query('ALTER ROLE tsa_ro RESET default_transaction_read_only');
      await sessions();
      await waitUntil(() => ledger.unavailableReason() === undefined);
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: expect.any(Number) });
    } finally {
      await ledger.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_ro');
      await db.query('DROP ROLE tsa_ro');
    }
  });
});

describe('ledger: commits the database refuses (a privilege revoked)', () => {
  it.each([
    ['INSERT on tsa_ledger', 'INSERT ON tsa_ledger', 'tsa_ledger'],
    ['UPDATE on the counter row', 'UPDATE ON tsa_ledger_counter', 'tsa_ledger_counter'],
  ])(
    'without %s: refused as a fault (500) that no probe lifts, until the grant is back',
    async (_what, privilege, table) => {
      await (await openLedger()).close(); // the tables, made by their owner
      await db.query('DROP ROLE IF EXISTS tsa_grant');
      await db.query("CREATE ROLE tsa_grant LOGIN PASSWORD 'grant-password'");
      await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_grant');
      const { logger, warnings, infos } = recordingLogger();
      const ledger = await openLedger(
        logger,
        `postgres://tsa_grant:grant-password@127.0.0.1:${postgres.port}/tsa`,
      );
      const rows = async () =>
        Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM tsa_ledger')).rows[0]!.n);
      const reason = `${COMMITS_FAIL} (SQLSTATE 42501)`;
      try {
        const { index: before } = await ledger.record(randomLedgerEntry());
        await db.query(`REVOKE ${privilege} FROM tsa_grant`);
        // The commit fails: withheld as a fault, not as an outage (no retry would mend it).
        await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
          code: 'NOT_RECORDED',
          message: reason,
          temporary: false,
          cause: { code: '42501' },
        });
        expect(ledger.unavailableReason()).toBe(reason);
        expect(ledger.unavailableIsTemporary()).toBe(false);
        const stored = await rows();
        // Several probes: each reads (the database answers) and tries a commit, rolled back,
        // which fails; none lifts the refusal (the old probe's SELECT did, and the next commit
        // failed again: 503 and 500 in turn).
        const probes = ledger.probes;
        while (ledger.probes < probes + 3) {
          await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
            message: reason,
            temporary: false,
          });
          expect(ledger.unavailableReason()).toBe(reason);
          expect(ledger.unavailableIsTemporary()).toBe(false);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // One commit was tried: the refused records were never sent; one line when refused.
        expect(ledger.failedCommits).toBe(1);
        // The database's own words are in the log line only (clients get the SQLSTATE).
        expect(warnings).toEqual([
          {
            fields: { reason: `42501: permission denied for table ${table}` },
            message: `${reason}: refusing issuance until a commit would succeed`,
          },
        ]);
        expect(infos).toEqual([]);
        // The probes' commits left no row.
        expect(await rows()).toBe(stored);

        // The operator grants it back: the next probe's trial commit succeeds, no restart.
        await db.query(`GRANT ${privilege} TO tsa_grant`);
        await waitUntil(() => ledger.unavailableReason() === undefined);
        expect(infos).toEqual(['ledger commits succeed again: issuing']);
        // No log index was used by the probes' commits, failed or rolled back: no gap.
        expect(await ledger.record(randomLedgerEntry())).toEqual({ index: before + 1 });
        expect(await rows()).toBe(stored + 1);
      } finally {
        await ledger.close();
        await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_grant');
        await db.query('DROP ROLE tsa_grant');
      }
    },
  );
});

/** Until another session waits for a lock on the ledger's counter row (a commit is blocked). */
async function commitWaitsForLock(): Promise<void> {
  await waitUntil(async () => {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' " +
        "AND query LIKE '%tsa_ledger_counter%'",
    );
    return rows[0]!.n > 0;
  });
}

/** A session that holds the counter row's lock (as another replica's commit does) until released. */
async function lockCounterRow() {
  const locker = await db.connect();
  await locker.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  await locker.query('UPDATE tsa_ledger_counter SET next_index = next_index WHERE id');
  return {
    commit: () => locker.query('COMMIT'),
    release: async () => {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
    },
  };
}

describe('ledger: a database whose default isolation level is above READ COMMITTED', () => {
  it('commits from two replicas at once under repeatable read: no conflict, no outage', async () => {
    await (await openLedger()).close(); // the tables
    await db.query("ALTER DATABASE tsa SET default_transaction_isolation = 'repeatable read'");
    const a = recordingLogger();
    const b = recordingLogger();
    const ledgers: Ledger[] = [];
    try {
      ledgers.push(await openLedger(a.logger), await openLedger(b.logger));
      // The ledger's connections are pinned to READ COMMITTED; another session is not.
      const { rows } = await ledgers[0]!.pool.query<{ level: string }>(
        "SELECT current_setting('transaction_isolation') AS level",
      );
      expect(rows[0]!.level).toBe('read committed');
      const other = new pg.Client({ connectionString: postgres.url });
      await other.connect();
      const { rows: others } = await other.query<{ level: string }>(
        "SELECT current_setting('transaction_isolation') AS level",
      );
      await other.end();
      expect(others[0]!.level).toBe('repeatable read');

      // A commit that waited for another's counter row lock goes on after it (no 40001).
      const lock = await lockCounterRow();
      let waited;
      try {
        waited = ledgers[0]!.record(randomLedgerEntry());
        await commitWaitsForLock();
        await lock.commit();
      } finally {
        await lock.release();
      }
      await expect(waited).resolves.toEqual({ index: expect.any(Number) });

      const results = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) => ledgers[i % 2]!.record(randomLedgerEntry())),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const indexes = results.map((r) => (r.status === 'fulfilled' ? r.value.index : -1));
      expect(new Set(indexes).size).toBe(200);
      for (const ledger of ledgers) {
        expect(ledger.conflicts).toBe(0);
        expect(ledger.failedCommits).toBe(0);
        expect(ledger.unavailableReason()).toBeUndefined();
      }
      expect([...a.warnings, ...b.warnings]).toEqual([]);
    } finally {
      for (const ledger of ledgers) await ledger.close();
      await db.query('ALTER DATABASE tsa RESET default_transaction_isolation');
    }
  });

  it('retries a commit that lost a serialization conflict, never taking it for an outage', async () => {
    await (await openLedger()).close(); // the tables
    await db.query("ALTER DATABASE tsa SET default_transaction_isolation = 'repeatable read'");
    const { logger, warnings } = recordingLogger();
    // Connections where the pinned level did not arrive (a pooler that drops startup options).
    const config = await poolConfig(postgres.url, '', 2);
    delete config.options;
    const ledger = await Ledger.open(config, logger);
    try {
      const { rows } = await ledger.pool.query<{ level: string }>(
        "SELECT current_setting('transaction_isolation') AS level",
      );
      expect(rows[0]!.level).toBe('repeatable read');
      // The commit's snapshot is taken, then it waits for the row another transaction updates
      // and commits: under REPEATABLE READ it fails with 40001, and is sent again.
      const lock = await lockCounterRow();
      let recorded;
      try {
        recorded = ledger.record(randomLedgerEntry());
        await commitWaitsForLock();
        await lock.commit();
      } finally {
        await lock.release();
      }
      await expect(recorded).resolves.toEqual({ index: expect.any(Number) });
      expect(ledger.conflicts).toBe(1);
      expect(ledger.unavailableReason()).toBeUndefined();
      expect(warnings).toEqual([]);
    } finally {
      await ledger.close();
      await db.query('ALTER DATABASE tsa RESET default_transaction_isolation');
    }
  });
});

describe('ledger: a database whose synchronous_commit is off', () => {
  const level = async (pool: pg.Pool) =>
    (await pool.query<{ level: string }>("SELECT current_setting('synchronous_commit') AS level"))
      .rows[0]!.level;

  it('commits on connections that wait for the WAL flush, keeping a level the URL chose', async () => {
    await (await openLedger()).close(); // the tables
    // A commit confirmed with off is lost to a crash before the WAL writer flushes it.
    await db.query('ALTER DATABASE tsa SET synchronous_commit = off');
    const ledgers: Ledger[] = [];
    try {
      const other = new pg.Client({ connectionString: postgres.url });
      await other.connect();
      const { rows } = await other.query<{ level: string }>(
        "SELECT current_setting('synchronous_commit') AS level",
      );
      await other.end();
      expect(rows[0]!.level).toBe('off');

      const ledger = await openLedger();
      ledgers.push(ledger);
      expect(await level(ledger.pool)).toBe('on');
      await expect(ledger.record(randomLedgerEntry())).resolves.toEqual({
        index: expect.any(Number),
      });

      const own = (options: string) =>
        `${postgres.url}?options=${encodeURIComponent(`-c synchronous_commit=${options}`)}`;
      const stronger = await openLedger(undefined, own('remote_apply'));
      ledgers.push(stronger);
      expect(await level(stronger.pool)).toBe('remote_apply');
      const off = await openLedger(undefined, own('off'));
      ledgers.push(off);
      expect(await level(off.pool)).toBe('on');
    } finally {
      for (const ledger of ledgers) await ledger.close();
      await db.query('ALTER DATABASE tsa RESET synchronous_commit');
    }
  });
});

describe('ledger: the commit queue during an outage', () => {
  /** A ledger whose statements time out after 300 ms (the production value is 5 s). */
  async function quickLedger(logger: LedgerLogger) {
    const config = await poolConfig(postgres.url, '', 2);
    return Ledger.open({ ...config, statement_timeout: 300, query_timeout: 1_300 }, logger);
  }

  it('fails every queued token with the first failed commit once the database is known down', async () => {
    await (await openLedger()).close(); // the tables
    const { logger, warnings } = recordingLogger();
    const ledger = await quickLedger(logger);
    const lock = await lockCounterRow();
    try {
      // The first record's commit waits for the lock; the others queue behind it.
      const records = Array.from({ length: 1_200 }, () => ledger.record(randomLedgerEntry()));
      await commitWaitsForLock();
      const outcomes = await Promise.allSettled(records);
      // Its statement timed out (57014: an outage); the 1,199 queued tokens were not sent in
      // further commits, each waiting for a timeout, but failed with it at once.
      expect(ledger.failedCommits).toBe(1);
      expect(ledger.commits).toBe(0);
      const errors = new Set(outcomes.map((o) => (o.status === 'rejected' ? o.reason : 'ok')));
      expect(errors.size).toBe(1);
      expect([...errors][0]).toMatchObject({
        code: 'NOT_RECORDED',
        message: 'the ledger database is unavailable',
        temporary: true,
        cause: { code: '57014' },
      });
      expect(warnings.map((w) => w.message)).toEqual([
        'ledger database unavailable: refusing issuance until it answers',
      ]);
    } finally {
      await lock.release();
      await ledger.close();
    }
  });

  it(`refuses at once beyond ${MAX_PENDING} queued tokens, and the guard refuses to sign meanwhile`, async () => {
    await resetSchema();
    const { logger } = recordingLogger();
    const processLedger = await openProcess(logger);
    const { ledger } = processLedger;
    const lock = await lockCounterRow();
    try {
      expect(processLedger.guard()).toBeUndefined();
      // One commit under way (waiting for the lock), MAX_PENDING queued behind it, then more.
      const first = ledger.record(randomLedgerEntry());
      await commitWaitsForLock();
      const queued = Array.from({ length: MAX_PENDING }, () => ledger.record(randomLedgerEntry()));
      const beyond = Array.from({ length: 5 }, () => ledger.record(randomLedgerEntry()));
      const queuedSettled = queued.map(settled);
      const beyondSettled = beyond.map(settled);
      await new Promise((resolve) => setImmediate(resolve));
      expect(beyondSettled.every((isSettled) => isSettled())).toBe(true);
      expect(queuedSettled.some((isSettled) => isSettled())).toBe(false);
      for (const refused of beyond) {
        await expect(refused).rejects.toMatchObject({
          code: 'NOT_RECORDED',
          message: LEDGER_BUSY,
          temporary: true,
          // Answered as the guard answers: 503, Retry-After: 1, the busy reason.
          retryInMs: 1_000,
          detail: LEDGER_BUSY,
        });
      }
      expect(ledger.queueFull()).toBe(true);
      expect(processLedger.guard()).toMatchObject({
        failInfo: 'systemFailure',
        detail: LEDGER_BUSY,
        temporary: true,
        retryInMs: 1_000, // a full queue drains within a few commits: retry soon
      });
      // Not an outage: the database is fine, and every queued token is committed.
      expect(ledger.unavailableReason()).toBeUndefined();
      await lock.commit();
      const receipts = await Promise.all([first, ...queued]);
      expect(new Set(receipts.map((r) => r.index)).size).toBe(MAX_PENDING + 1);
      expect(processLedger.guard()).toBeUndefined();
    } finally {
      await lock.release();
      await processLedger[Symbol.asyncDispose]();
    }
  });
});

describe('ledger: an idle connection the server ends', () => {
  it('is no outage: the probe checks at once, issuance goes on, nothing is logged', async () => {
    await (await openLedger()).close(); // the tables
    await db.query('DROP ROLE IF EXISTS tsa_idle');
    await db.query("CREATE ROLE tsa_idle LOGIN PASSWORD 'idle-password'");
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_idle');
    // The server ends its sessions after a second idle (as pg_terminate_backend, or a pooler's
    // idle cut, would).
    await db.query("ALTER ROLE tsa_idle SET idle_session_timeout = '1s'");
    const { logger, warnings } = recordingLogger();
    const ledger = await Ledger.open(
      await poolConfig(`postgres://tsa_idle:idle-password@127.0.0.1:${postgres.port}/tsa`, '', 1),
      logger,
    );
    // What the ledger says when the pool reports the ended connection (its listener runs first).
    const downAtEnd: (string | undefined)[] = [];
    ledger.pool.on('error', () => downAtEnd.push(ledger.unavailableReason()));
    try {
      await ledger.record(randomLedgerEntry());
      // Two sessions ended: the second is the one the probe opened after the first ended.
      await waitUntil(() => downAtEnd.length >= 2);
      expect(downAtEnd.slice(0, 2)).toEqual([undefined, undefined]);
      expect(ledger.unavailableReason()).toBeUndefined();
      expect(warnings).toEqual([]);
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: expect.any(Number) });
    } finally {
      await ledger.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_idle');
      await db.query('DROP ROLE tsa_idle');
    }
  });
});

describe('ledger: a password rotated on the database before the password file', () => {
  it('refuses issuance for now (503: the file is read again for each connection) until the file has it', async () => {
    await (await openLedger()).close(); // the tables, made by their owner
    await db.query('DROP ROLE IF EXISTS tsa_pw');
    await db.query("CREATE ROLE tsa_pw LOGIN PASSWORD 'first-password'");
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_pw');
    const passwordFile = join(postgres.dir, 'tsa-pw-password');
    writeFileSync(passwordFile, 'first-password\n', { mode: 0o600 });
    const { logger, warnings, infos } = recordingLogger();
    const ledger = await Ledger.open(
      await poolConfig(`postgres://tsa_pw@127.0.0.1:${postgres.port}/tsa`, passwordFile, 2),
      logger,
    );
    const reason = `${LOGIN_REFUSED} (SQLSTATE 28P01)`;
    try {
      const { index: before } = await ledger.record(randomLedgerEntry());
      // The database's side first; its open sessions end, so the next connections log in anew.
      await db.query("ALTER ROLE tsa_pw PASSWORD 'second-password'");
      await db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'tsa_pw'",
      );
      await waitUntil(() => ledger.unavailableReason() === reason);
      expect(ledger.unavailableIsTemporary()).toBe(true);
      await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({
        code: 'NOT_RECORDED',
        message: reason,
        temporary: true,
      });
      // One line for the refusal (a probe cut by the sessions' end may have logged an outage
      // first), with the database's own words, which clients are not sent.
      const refusals = warnings.filter((w) => w.message.startsWith(LOGIN_REFUSED));
      expect(refusals).toEqual([
        {
          fields: { reason: '28P01: password authentication failed for user "tsa_pw"' },
          message: `${reason}: refusing issuance until a commit would succeed`,
        },
      ]);
      // The Secret lands: the next connection reads the file again, no restart.
      writeFileSync(passwordFile, 'second-password\n');
      await waitUntil(() => ledger.unavailableReason() === undefined);
      expect(infos).toEqual(['ledger commits succeed again: issuing']);
      expect(await ledger.record(randomLedgerEntry())).toEqual({ index: before + 1 });
    } finally {
      await ledger.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_pw');
      await db.query('DROP ROLE tsa_pw');
    }
  });
});

describe("ledger: the database's host", () => {
  it('is resolved by the ledger, once for the connections that want it at the same time', async () => {
    // A name only the ledger's resolver knows: pg's own lookup (dns.lookup) would not find it.
    const held = lookupsKnowing(DATABASE_NAME, { held: true });
    const url = postgres.url.replace('@127.0.0.1:', `@${DATABASE_NAME}:`);
    const pool = new pg.Pool(await poolConfig(url, '', 4, process.env, held.lookups));
    try {
      const queries = Array.from({ length: 4 }, () => pool.query('SELECT 1 AS one'));
      await waitUntil(() => held.socketsAsking() === 4);
      // Four connections wait for the name, and one getaddrinfo (one of libuv's threads) runs.
      expect(held.asked).toEqual([DATABASE_NAME]);
      held.release();
      const answers = await Promise.all(queries);
      expect(answers.map(({ rows }) => rows[0].one)).toEqual([1, 1, 1, 1]);
      expect(pool.totalCount).toBe(4);
      expect(held.asked).toEqual([DATABASE_NAME]); // the four shared that one lookup
    } finally {
      await pool.end();
    }
  });

  it('over TLS (verify-full), the certificate is checked for the name, not the address', async () => {
    const dir = tempDir();
    const rootCert = dir.write('root.crt', databaseTls.cert);
    const tlsUrl = (host: string) =>
      `${postgres.url.replace('@127.0.0.1:', `@${host}:`)}?sslmode=verify-full&sslrootcert=${rootCert}`;
    const named = lookupsKnowing(DATABASE_NAME);
    const pool = new pg.Pool(
      await poolConfig(tlsUrl(DATABASE_NAME), '', 1, process.env, named.lookups),
    );
    // The same database under another name (the certificate is not for it): refused.
    const misnamed = lookupsKnowing('other-db.test');
    const wrongPool = new pg.Pool(
      await poolConfig(tlsUrl('other-db.test'), '', 1, process.env, misnamed.lookups),
    );
    try {
      const { rows } = await pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows[0].ssl).toBe(true);
      expect(named.asked).toEqual([DATABASE_NAME]);
      await expect(wrongPool.query('SELECT 1')).rejects.toMatchObject({
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
      expect(misnamed.asked).toEqual(['other-db.test']);
    } finally {
      await pool.end();
      await wrongPool.end();
      dir.cleanup();
    }
  });

  it('a Unix socket is not looked up', async () => {
    const held = lookupsKnowing(DATABASE_NAME, { held: true }); // never released: a lookup would hang
    const url = `${postgres.url}?host=${encodeURIComponent(postgres.dir)}`;
    const pool = new pg.Pool(await poolConfig(url, '', 1, process.env, held.lookups));
    try {
      const { rows } = await pool.query('SELECT 1 AS one');
      expect(rows[0].one).toBe(1);
      expect(held.socketsAsking()).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
