/**
 * The network failing under the ledger, through a TCP proxy between it and PostgreSQL. The probe's
 * trial commit (a commit's INSERT in a transaction it rolls back, run while issuance is refused):
 * a connection cut mid-trial is a refused probe, not an uncaught error that ends the process; and
 * a trial cut off before its ROLLBACK (a partition: the database never hears the client go) does
 * not keep the counter row's lock, which every replica's commits wait for, beyond the trial's
 * idle timeout; and a session the database ends between the trial's statements is the outage it
 * is (503), not a fault. The sequencer's round: a connection cut during its lock query fails the
 * round, not the process.
 */
import { generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolConfig } from '../../../src/ledger/connection.js';
import { Ledger, type LedgerLogger } from '../../../src/ledger/ledger.js';
import { Sequencer } from '../../../src/ledger/sequencer.js';
import { newEd25519Signer, verifierKey } from '../../../src/tlog/note.js';
import { recordingLedgerLogger } from '../../helpers/ledger-db.js';
import { randomLedgerEntry } from '../../helpers/ledger-entry.js';
import { waitUntil } from '../../helpers/poll.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let postgres: TestPostgres;
let db: pg.Pool;

/**
 * What the proxy does to the traffic: pass it; or, once a ROLLBACK is seen, drop it both ways; or,
 * once the sequencer's lock query is seen, close both connections before it reaches the database;
 * or, once a trial commit's BEGIN is seen, end that session (terminateAfterBegin) after the
 * database acknowledged it and before the client hears so.
 */
let partitionAtRollback = false;
let cutAtLockQuery = false;
let terminateAfterBegin: ((backendPort: number) => Promise<void>) | undefined;
const clientSockets: Socket[] = [];
/** ReadyForQuery inside a transaction: the reply to the trial's BEGIN is complete. */
const READY_IN_TRANSACTION = Buffer.from('Z\0\0\0\x05T', 'latin1');
const proxy = createServer((client) => {
  const server = connect(postgres.port, '127.0.0.1');
  clientSockets.push(client);
  let partitioned = false;
  /** The database's replies held back while its session is ended, once terminating. */
  let held: Buffer[] | undefined;
  let terminate: ((backendPort: number) => Promise<void>) | undefined;
  client.on('data', (chunk: Buffer) => {
    if (partitionAtRollback && chunk.includes('ROLLBACK')) partitioned = true;
    if (cutAtLockQuery && chunk.includes('pg_try_advisory_lock')) {
      client.destroy();
      server.destroy();
      return;
    }
    if (terminateAfterBegin && chunk.includes('idle_in_transaction_session_timeout')) {
      [terminate, terminateAfterBegin] = [terminateAfterBegin, undefined];
      held = [];
    }
    if (!partitioned) server.write(chunk);
  });
  server.on('data', (chunk: Buffer) => {
    if (held) {
      held.push(chunk);
      if (terminate && Buffer.concat(held).includes(READY_IN_TRANSACTION)) {
        void terminate(server.localPort!);
        terminate = undefined;
      }
      return;
    }
    if (!partitioned) client.write(chunk);
  });
  // Once the database ended the session: its acknowledgement of BEGIN and its FATAL error in one
  // write, so that the error arrives while no statement is active, as it does when the session
  // ends between two statements.
  server.on('end', () => {
    if (held) client.end(Buffer.concat(held));
  });
  // Partitioned, the database never hears that the client went.
  client.on('close', () => {
    if (!partitioned) server.destroy();
  });
  server.on('close', () => {
    if (!held) client.destroy();
  });
  client.on('error', () => {});
  server.on('error', () => {});
});
let proxyPort = 0;

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 4 });
  db.on('error', () => undefined);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as { port: number }).port;
  await (await Ledger.open(await poolConfig(postgres.url, '', 2), quiet)).close(); // the tables
});
afterAll(async () => {
  for (const socket of clientSockets) socket.destroy();
  proxy.close();
  await db?.end();
  await postgres?.destroy();
});

const quiet: LedgerLogger = { info: () => {}, warn: () => {} };

/** Sessions of `role` in `state` ('idle in transaction'), or waiting for a lock. */
async function sessions(role: string, where: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND ${where}`,
    [role],
  );
  return rows[0]!.n;
}

/**
 * A ledger through the proxy as `role`, whose commits are refused (INSERT revoked): its probe runs
 * trial commits from then on. `cleanup` ends it and drops the role.
 */
async function refusedLedger(role: string, logger = quiet) {
  await db.query(`DROP ROLE IF EXISTS ${role}`);
  await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'proxy-password'`);
  await db.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${role}`);
  const ledger = await Ledger.open(
    await poolConfig(`postgres://${role}:proxy-password@127.0.0.1:${proxyPort}/tsa`, '', 2),
    logger,
  );
  await ledger.record(randomLedgerEntry());
  await db.query(`REVOKE INSERT ON tsa_ledger FROM ${role}`);
  await expect(ledger.record(randomLedgerEntry())).rejects.toMatchObject({ code: 'NOT_RECORDED' });
  expect(ledger.unavailableReason()).toMatch(/^ledger commits fail/);
  const cleanup = async () => {
    await ledger.close().catch(() => {});
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [
      role,
    ]);
    await db.query(`DROP OWNED BY ${role}`);
    await db.query(`DROP ROLE ${role}`);
  };
  return { ledger, cleanup };
}

describe("the ledger probe's trial commit, the network failing under it", () => {
  it('a connection cut mid-trial (no word from the database) fails the probe, and nothing else', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => void uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    const { ledger, cleanup } = await refusedLedger('tsa_cut');
    const locker = await db.connect();
    try {
      // Another replica's commit holds the counter row: the next trial's INSERT waits for it.
      await locker.query('BEGIN');
      await locker.query('SELECT * FROM tsa_ledger_counter FOR UPDATE');
      await db.query('GRANT INSERT ON tsa_ledger TO tsa_cut');
      await waitUntil(async () => (await sessions('tsa_cut', "wait_event_type = 'Lock'")) > 0);
      const probes = ledger.probes;
      for (const socket of clientSockets.splice(0)) socket.destroy();
      // That probe ends (refused: the database unavailable), and the process is still here.
      await waitUntil(() => ledger.probes > probes);
      expect(uncaught).toEqual([]);
      expect(ledger.unavailableReason()).toBe('ledger database unavailable');
      await locker.query('ROLLBACK');
      // Through new connections, the next trial succeeds: issuance resumes.
      await waitUntil(() => ledger.unavailableReason() === undefined);
      await ledger.record(randomLedgerEntry());
    } finally {
      process.off('uncaughtException', onUncaught);
      await locker.query('ROLLBACK').catch(() => {});
      locker.release();
      await cleanup();
    }
  });

  it("a trial cut off before its ROLLBACK does not hold the counter row's lock: another replica commits", async () => {
    const healthy = await Ledger.open(await poolConfig(postgres.url, '', 2), quiet);
    const { cleanup } = await refusedLedger('tsa_partitioned');
    try {
      partitionAtRollback = true;
      await db.query('GRANT INSERT ON tsa_ledger TO tsa_partitioned');
      // The next trial: BEGIN and INSERT reach the database, its ROLLBACK never does. Waited for
      // after its INSERT (which holds the counter row), not between BEGIN and INSERT.
      const holdingCounter = "state = 'idle in transaction' AND query LIKE '%tsa_ledger_counter%'";
      await waitUntil(async () => (await sessions('tsa_partitioned', holdingCounter)) > 0);
      // Another replica commits while that trial holds the counter row's lock: its commit waits
      // until the database ends the trial's session itself (the trial's idle timeout), and the
      // lock with it, which must come well within the commit's own statement timeout.
      await healthy.record(randomLedgerEntry());
      expect(healthy.unavailableReason()).toBeUndefined();
    } finally {
      partitionAtRollback = false;
      for (const socket of clientSockets.splice(0)) socket.destroy();
      await healthy.close();
      await cleanup();
    }
  });
});

describe("the ledger probe's trial commit, its session ended by the database", () => {
  it('between BEGIN and INSERT is the outage it is (503, the FATAL logged), not a fault', async () => {
    const { logger, warnings } = recordingLedgerLogger();
    const { ledger, cleanup } = await refusedLedger('tsa_terminated', logger);
    let probesAtCut = -1;
    try {
      // As a failover or pg_terminate_backend does: the database ends the trial's session.
      terminateAfterBegin = async (backendPort) => {
        probesAtCut = ledger.probes;
        await db.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = $1',
          [backendPort],
        );
      };
      await db.query('GRANT INSERT ON tsa_ledger TO tsa_terminated');
      await waitUntil(() => probesAtCut >= 0 && ledger.probes > probesAtCut);
      expect(ledger.unavailableReason()).toBe('ledger database unavailable');
      expect(ledger.unavailableIsTemporary()).toBe(true);
      // The database's own error, not pg's "… is not queryable".
      expect(warnings.at(-1)).toEqual({
        fields: { reason: '57P01: terminating connection due to administrator command' },
        message: 'ledger database unavailable: refusing issuance until it answers',
      });
      // The next trial, on a new connection, succeeds: issuance resumes.
      await waitUntil(() => ledger.unavailableReason() === undefined);
      await ledger.record(randomLedgerEntry());
    } finally {
      terminateAfterBegin = undefined;
      await cleanup();
    }
  });
});

describe("the sequencer's lock query, the network failing under it", () => {
  it('a connection cut during it fails the round, and nothing else; the next round leads', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => void uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    const pool = new pg.Pool({
      connectionString: postgres.url.replace(`:${postgres.port}/`, `:${proxyPort}/`),
      max: 1,
    });
    pool.on('error', () => undefined);
    const origin = 'cuts.example/log';
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const warnings: string[] = [];
    const sequencer = new Sequencer(pool, {
      signer: newEd25519Signer(origin, privateKey),
      origin,
      verifierKey: verifierKey(origin, publicKey),
      intervalMs: 60_000,
      logger: { info: () => {}, warn: (_fields, message) => void warnings.push(message) },
    });
    try {
      cutAtLockQuery = true;
      await sequencer.round();
      cutAtLockQuery = false;
      // pg emits the cut connection's 'error' after it rejects the query: let it come.
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).toEqual([]);
      expect(warnings).toEqual(['transparency log sequencer round failed']);
      expect(sequencer.leader).toBe(false);
      await sequencer.round();
      expect(sequencer.leader).toBe(true);
    } finally {
      cutAtLockQuery = false;
      process.off('uncaughtException', onUncaught);
      await sequencer.stop();
      await pool.end();
    }
  });
});
