import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { Sequencer } from '../../../src/ledger/sequencer.js';
import { SEQUENCER_LOCK } from '../../../src/ledger/schema.js';
import { registry } from '../../../src/metrics/registry.js';
import { newEd25519Signer, verifierKey } from '../../../src/tlog/note.js';
import { readElement } from '../../../src/asn1/der.js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLogResource } from '../../../src/cli/timestamp-cli/log-client.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { ledgerEntry } from '../../../src/ledger/entry.js';
import { COMMITS_FAIL, Ledger } from '../../../src/ledger/ledger.js';
import { poolConfig } from '../../../src/ledger/connection.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { TimestampAuthority } from '../../../src/tsp/authority.js';
import { timeStampTokenOf } from '../../../src/tsp/response.js';
import { parseEntryBundle, tilePath } from '../../../src/tlog/tile.js';
import { decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';
import { writeLedgerKey } from '../../helpers/ledger-key.js';
import { waitUntil } from '../../helpers/poll.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { createTestServer } from '../../helpers/tsa.js';

let postgres: TestPostgres;
let db: pg.Pool;
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined);
});
afterAll(async () => {
  await db?.end();
  await postgres?.destroy();
});

/**
 * The flags of a transparency log of its own: a new --ledger-key, origin `tsa.test/<name>`, a
 * checkpoint every 50 ms, no anchoring.
 */
function logFlags(name: string) {
  return {
    ledgerKey: writeLedgerKey(postgres.dir, `${name}-key.pem`),
    ledgerOrigin: `tsa.test/${name}`,
    ledgerCheckpointInterval: '50ms',
    ledgerAnchorInterval: '0',
  };
}

/** A log of its own: empties the log's tables, where an earlier test made them. */
async function emptyLog(): Promise<void> {
  await db.query(`DO $$ BEGIN
    IF to_regclass('tsa_log_checkpoints') IS NOT NULL THEN
      TRUNCATE tsa_log_checkpoints, tsa_log_hashes;
    END IF;
  END $$`);
}

async function start(flags: Partial<Record<ServeOptionName, unknown>> = {}) {
  return startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      ledgerUrl: postgres.urlWithoutPassword,
      ledgerPasswordFile: postgres.passwordFile,
      ...flags,
    }),
    logger,
  );
}

async function timestamp(server: RunningServer, i: number) {
  const response = await fetch(`${server.url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: encodeRequest({ nonce: BigInt(i) }),
  });
  const der = Buffer.from(await response.arrayBuffer());
  // A granted TimeStampResp: SEQUENCE { PKIStatusInfo SEQUENCE { INTEGER 0 }, token }
  const granted =
    response.status === 200 &&
    Buffer.from(readElement(readElement(der).value).bytes).equals(GRANTED_STATUS);
  return { response, der, granted, logIndex: response.headers.get('x-log-index') };
}
const GRANTED_STATUS = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);

async function ledgerTokens(): Promise<Map<string, number>> {
  const { rows } = await db.query<{ token: Buffer; log_index: string }>(
    'SELECT token, log_index FROM tsa_ledger',
  );
  return new Map(rows.map((row) => [row.token.toString('hex'), Number(row.log_index)]));
}

/** A JSON time-stamp request (the Go API's), as a client sends it. */
function jsonTimestamp(url: string): Promise<Response> {
  return fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      hashAlgorithm: 'sha256',
      artifactHash: Buffer.alloc(32, 1).toString('base64'),
    }),
  });
}

describe('issuance ledger (PostgreSQL)', () => {
  it('commits every granted token before sending it, in group commits, with gapless indexes', async () => {
    const server = await start();
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => timestamp(server, i)),
      );
      expect(results.every((r) => r.granted)).toBe(true);
      const ledger = await ledgerTokens();
      for (const result of results) {
        const token = Buffer.from(timeStampTokenOf(result.der)).toString('hex');
        expect(ledger.get(token)).toBe(Number(result.logIndex));
      }
      const { rows } = await db.query<{ n: string; min: string; max: string; serials: string }>(
        'SELECT count(*) AS n, min(log_index), max(log_index), count(DISTINCT serial) AS serials FROM tsa_ledger',
      );
      expect(rows[0]).toEqual({ n: '200', min: '0', max: '199', serials: '200' });
      const { rows: schema } = await db.query('SELECT version FROM tsa_schema_version');
      expect(schema).toEqual([{ version: 1 }]);
    } finally {
      await server.close();
    }
    // Fewer commits than tokens: concurrent tokens shared a transaction.
    expect(logLines.join('')).not.toContain(postgres.password);
  });

  it('records the policy, imprint and genTime of each token', async () => {
    const { rows } = await db.query(
      'SELECT policy, hash_algorithm, hashed_message, gen_time FROM tsa_ledger LIMIT 1',
    );
    expect(rows[0].policy).toBe('1.3.6.1.4.1.57264.2');
    expect(rows[0].hash_algorithm).toBe('sha256');
    expect(rows[0].hashed_message).toHaveLength(32);
    expect(rows[0].gen_time).toBeInstanceOf(Date);
  });

  it('commits concurrent records together (group commit)', async () => {
    const tsa = await createTestServer();
    const ledger = await Ledger.open(await poolConfig(postgres.url, '', 2), {
      info: () => undefined,
      warn: () => undefined,
    });
    try {
      const granted = await Promise.all(
        Array.from({ length: 100 }, () => tsa.authority.issue(encodeRequest(), 'der')),
      );
      const receipts = await Promise.all(
        granted.map((g) => {
          if (g.status !== 'granted') throw new Error('not granted');
          return ledger.record(ledgerEntry(g, '1.2.3'));
        }),
      );
      expect(new Set(receipts.map((r) => r.index)).size).toBe(100);
      expect(ledger.rows).toBe(100);
      expect(ledger.commits).toBeLessThan(100);
    } finally {
      await ledger.close();
      await tsa.signer[Symbol.asyncDispose]();
    }
  });

  it('makes a token again with a new serial number when its serial number is taken', async () => {
    const tsa = await createTestServer();
    const ledger = await Ledger.open(await poolConfig(postgres.url, '', 2), {
      info: () => undefined,
      warn: () => undefined,
    });
    try {
      // A serial source that repeats its first value once: the second token collides.
      const serials = [
        Buffer.from('0a0b0c', 'hex'),
        Buffer.from('0a0b0c', 'hex'),
        Buffer.from('0d', 'hex'),
      ];
      let next = 0;
      const authority = new TimestampAuthority({
        profile: {
          signer: tsa.signer,
          chain: tsa.chain,
          defaultPolicy: Buffer.from('060a2b0601040183bf300102', 'hex'),
          accuracySeconds: 1,
          includeChain: false,
        },
        policy: {
          acceptedPolicies: new Set(),
          allowCustomExtensions: false,
          acceptedExtensions: new Set(),
        },
        serialNumber: () => serials[next++]!,
      });
      const record = async (granted: Parameters<typeof ledgerEntry>[0]) => {
        await ledger.record(ledgerEntry(granted, '1.3.6.1.4.1.57264.2'));
      };
      const first = await authority.issue(encodeRequest(), 'der', { record });
      const second = await authority.issue(encodeRequest(), 'der', { record });
      expect(first.status).toBe('granted');
      expect(second.status).toBe('granted');
      if (first.status !== 'granted' || second.status !== 'granted') return;
      expect(first.serialNumber).toBe('0a0b0c');
      expect(second.serialNumber).toBe('0d');
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM tsa_ledger WHERE serial IN ('\\x0a0b0c'::bytea, '\\x0d'::bytea)",
      );
      expect(rows[0].n).toBe(2);
    } finally {
      await ledger.close();
      await tsa.signer[Symbol.asyncDispose]();
    }
  });

  it('refuses issuance while the database is down (red /readyz, no unrecorded token) and recovers', async () => {
    const auditLog = join(postgres.dir, 'outage-audit.jsonl');
    const server = await start({ auditLog });
    let stopped = false;
    let restarted = false;
    try {
      const before = await timestamp(server, 0);
      expect(before.granted).toBe(true);
      // Load running while the database goes away, until the first refusal.
      const load: Promise<Awaited<ReturnType<typeof timestamp>>[]> = (async () => {
        const results: Awaited<ReturnType<typeof timestamp>>[] = [];
        for (let i = 0; !stopped || results.every((r) => r.granted); i++) {
          results.push(
            ...(await Promise.all(
              Array.from({ length: 5 }, (_, j) => timestamp(server, i * 5 + j)),
            )),
          );
        }
        return results;
      })();
      await postgres.stop();
      stopped = true;
      const results = await load;
      await waitUntil(async () => (await fetch(`${server.url}/readyz`)).status === 503);
      const refused = await timestamp(server, 1);
      expect(refused.granted).toBe(false);
      // An outage of the ledger: systemFailure in the TimeStampResp, answered 503 with
      // Retry-After so that clients retry (as are the tokens withheld when their commit failed).
      expect(decodeResponse(refused.der).failInfo).toEqual(['systemFailure']);
      expect(decodeResponse(refused.der).statusStrings[1]).toBe('ledger database unavailable');
      const failed = results.filter((r) => !r.granted);
      expect(failed.length).toBeGreaterThan(0);
      for (const { response } of [refused, ...failed]) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('10');
      }
      const json = await jsonTimestamp(server.url);
      expect(json.status).toBe(503);
      expect(json.headers.get('retry-after')).toBe('10');
      expect(await json.json()).toEqual({
        code: 503,
        message: 'Error generating timestamp response',
      });
      expect(await (await fetch(`${server.url}/readyz`)).text()).toContain('ledger');
      expect(
        await registry.getSingleMetricAsString('timestamp_authority_ledger_available'),
      ).toMatch(/timestamp_authority_ledger_available 0$/m);

      await postgres.start();
      restarted = true;
      await waitUntil(async () => (await fetch(`${server.url}/readyz`)).status === 200);
      const after = await timestamp(server, 2);
      expect(after.granted).toBe(true);
      expect(
        await registry.getSingleMetricAsString('timestamp_authority_ledger_available'),
      ).toMatch(/timestamp_authority_ledger_available 1$/m);

      const ledger = await ledgerTokens();
      for (const result of [before, ...results, after].filter((r) => r.granted)) {
        expect(ledger.has(Buffer.from(timeStampTokenOf(result.der)).toString('hex'))).toBe(true);
      }
      // The audit log says what the clients got: each refusal a systemFailure answered 503.
      await server.close();
      const lines = readFileSync(auditLog, 'utf8')
        .trim()
        .split('\n')
        .map(
          (line) => JSON.parse(line) as { status: string; httpStatus: number; failInfo?: string },
        );
      const refusals = lines.filter((line) => line.status === 'rejection');
      expect(refusals).toHaveLength(failed.length + 2);
      for (const line of refusals) {
        expect(line).toMatchObject({ httpStatus: 503, failInfo: 'systemFailure' });
      }
    } finally {
      // A failed assertion must not leave the database down for the tests after this one.
      if (stopped && !restarted) await postgres.start();
      await server.close();
    }
  });

  it('refuses issuance as a fault (500, never 503) while its role may not insert, without flapping, and recovers once granted', async () => {
    // The tables, made by their owner; the server connects as a role of its own.
    await (
      await Ledger.open(await poolConfig(postgres.url, '', 1), {
        info: () => undefined,
        warn: () => undefined,
      })
    ).close();
    await db.query('DROP ROLE IF EXISTS tsa_issuer');
    await db.query("CREATE ROLE tsa_issuer LOGIN PASSWORD 'issuer-password'");
    await db.query('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tsa_issuer');
    const server = await start({
      ledgerUrl: `postgres://tsa_issuer:issuer-password@127.0.0.1:${postgres.port}/tsa`,
      ledgerPasswordFile: '',
    });
    const firstLine = logLines.length;
    const reason = `${COMMITS_FAIL} (SQLSTATE 42501)`;
    const refusedAsFault = (result: Awaited<ReturnType<typeof timestamp>>, detail: string) => {
      expect(result.granted).toBe(false);
      expect(result.response.status).toBe(500);
      expect(result.response.headers.get('retry-after')).toBeNull();
      expect(decodeResponse(result.der)).toMatchObject({
        failInfo: ['systemFailure'],
        statusStrings: ['Error generating timestamp response', detail],
      });
    };
    /** Transactions of the 'tsa' database rolled back so far: each failed trial commit is one. */
    const rolledBack = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            "SELECT xact_rollback AS n FROM pg_stat_database WHERE datname = 'tsa'",
          )
        ).rows[0]!.n,
      );
    try {
      const before = await timestamp(server, 0);
      expect(before.granted).toBe(true);
      // The ledger's role loses INSERT (a migration, a mistaken REVOKE): SELECT still works.
      await db.query('REVOKE INSERT ON tsa_ledger FROM tsa_issuer');
      // The commit fails: the token is withheld, as a fault (no retry would mend it).
      refusedAsFault(await timestamp(server, 1), 'token could not be recorded');
      // Several probes run meanwhile, each a trial commit that the database refuses (and rolls
      // back); the first failed commit may be counted among them too, hence 4. Every answer is
      // 500 and /readyz stays red, naming the error, throughout (the old probe's SELECT turned
      // it green: 503 and 500 in turn).
      const rollbacks = await rolledBack();
      let i = 2;
      while ((await rolledBack()) < rollbacks + 4) {
        refusedAsFault(await timestamp(server, i++), reason);
        const ready = await fetch(`${server.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.text()).toBe(reason);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const json = await jsonTimestamp(server.url);
      expect(json.status).toBe(500);
      expect(json.headers.get('retry-after')).toBeNull();
      expect(
        await registry.getSingleMetricAsString('timestamp_authority_ledger_available'),
      ).toMatch(/timestamp_authority_ledger_available 0$/m);
      // One line when refused, none per request or probe, and never "available again".
      const logged = () => logLines.slice(firstLine).join('');
      expect(logged().split('refusing issuance until a commit would succeed')).toHaveLength(2);
      expect(logged()).not.toMatch(/available again|succeed again|ledger database unavailable/);

      // The operator grants it back: issuance resumes without a restart.
      await db.query('GRANT INSERT ON tsa_ledger TO tsa_issuer');
      await waitUntil(async () => (await fetch(`${server.url}/readyz`)).status === 200);
      const after = await timestamp(server, i);
      expect(after.granted).toBe(true);
      // Recorded, at the next log index: the probes' trial commits used none.
      expect(Number(after.logIndex)).toBe(Number(before.logIndex) + 1);
      const ledger = await ledgerTokens();
      expect(ledger.get(Buffer.from(timeStampTokenOf(after.der)).toString('hex'))).toBe(
        Number(after.logIndex),
      );
      expect(logged().split('ledger commits succeed again: issuing')).toHaveLength(2);
    } finally {
      await server.close();
      await db.query('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsa_issuer');
      await db.query('DROP ROLE tsa_issuer');
    }
  });

  it('anchors its checkpoints: a token over each signed note (after the interval) is logged', async () => {
    // Shorter than the 50 ms between checkpoints: every checkpoint is due for an anchor.
    const server = await start({ ...logFlags('anchor'), ledgerAnchorInterval: '10ms' });
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
      await waitUntil(async () => {
        const { rows } = await db.query(
          `SELECT 1 FROM tsa_ledger l JOIN tsa_log_checkpoints c
             ON l.hashed_message = sha256(convert_to(c.note, 'UTF8'))`,
        );
        return rows.length > 0;
      });
      // An idle log then stays idle: the anchor's token is all the next checkpoint adds, and it is
      // not anchored again (each anchor logged a token that made a checkpoint to anchor, every
      // interval, for ever). Settled: two counts of the ledger half a second apart agree.
      let previous = -1;
      await waitUntil(async () => {
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tsa_ledger');
        const settled = rows[0]!.n === previous;
        previous = rows[0]!.n;
        return settled;
      }, 500);
    } finally {
      await server.close();
    }
  });

  it('refuses a token too large for a log entry (never committed) and serves every granted one', async () => {
    // A log of its own: earlier tests' checkpoints are signed by other keys.
    await db.query('TRUNCATE tsa_log_checkpoints, tsa_log_hashes');
    const server = await start({ ...logFlags('large'), allowCustomExtensions: true });
    const rowCount = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tsa_ledger')).rows[0]!.n;
    const withExtension = (octets: number) =>
      fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: encodeRequest({ extensions: [{ oid: '1.2.3.4', value: Buffer.alloc(octets, 7) }] }),
      });
    try {
      const rowsBefore = await rowCount();
      const refused = await withExtension(70_000);
      const refusal = decodeResponse(Buffer.from(await refused.arrayBuffer()));
      expect(refused.status).toBe(200); // --der-rejection-status=rfc: the refusal is in the body
      expect(refused.headers.get('x-log-index')).toBeNull();
      expect(refusal.status).toBe(2);
      expect(refusal.failInfo).toEqual(['badRequest']);
      expect(refusal.statusStrings[1]).toContain('65535 octets a log entry holds');
      expect(await rowCount()).toBe(rowsBefore);

      // Just under the limit: granted, logged, and readable from its entry bundle.
      const granted = await withExtension(60_000);
      const der = Buffer.from(await granted.arrayBuffer());
      expect(decodeResponse(der).status).toBe(0);
      const index = Number(granted.headers.get('x-log-index'));
      const token = timeStampTokenOf(der);
      expect(token.length).toBeGreaterThan(60_000);
      const size = await treeSizeBeyond(server, index);
      const n = Math.floor(index / 256);
      const path = tilePath({ h: 8, l: -1, n, w: Math.min(256, size - n * 256) });
      const tile = await fetch(`${server.url}/api/v1/log/${path}`);
      expect(tile.status).toBe(200);
      const entries = parseEntryBundle(new Uint8Array(await tile.arrayBuffer()));
      expect(Buffer.from(entries[index % 256]!).equals(token)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('gzips entry bundles for a client that accepts gzip (Vary: Accept-Encoding), never hash tiles', async () => {
    // A log of its own: earlier tests' checkpoints are signed by other keys (run alone: none).
    await emptyLog();
    const server = await start(logFlags('gzip'));
    try {
      const issued = await Promise.all([1, 2, 3].map((i) => timestamp(server, 1000 + i)));
      expect(issued.every((r) => r.granted)).toBe(true);
      const index = Math.max(...issued.map((r) => Number(r.logIndex)));
      const size = await treeSizeBeyond(server, index);
      const n = Math.floor(index / 256);
      const w = Math.min(256, size - n * 256);
      const bundle = `/api/v1/log/${tilePath({ h: 8, l: -1, n, w })}`;
      const hashTile = `/api/v1/log/${tilePath({ h: 8, l: 0, n, w })}`;

      const identity = await rawGet(server.url, bundle);
      expect(identity.status).toBe(200);
      expect(identity.headers['content-encoding']).toBeUndefined();
      expect(identity.headers.vary?.toLowerCase()).toContain('accept-encoding');
      const entries = parseEntryBundle(identity.body);
      expect(entries).toHaveLength(w);
      for (const r of issued) {
        const token = timeStampTokenOf(r.der);
        expect(Buffer.from(entries[Number(r.logIndex) % 256]!).equals(token)).toBe(true);
      }

      for (const accept of ['gzip', 'br;q=1, gzip;q=0.5, identity;q=0.1', 'x-gzip', '*']) {
        const gzipped = await rawGet(server.url, bundle, accept);
        expect(gzipped.status, accept).toBe(200);
        expect(gzipped.headers['content-encoding'], accept).toBe('gzip');
        expect(gzipped.headers.vary?.toLowerCase(), accept).toContain('accept-encoding');
        expect(gzipped.headers['content-type'], accept).toBe('application/octet-stream');
        expect(gzipped.headers['cache-control'], accept).toBe(identity.headers['cache-control']);
        expect(Number(gzipped.headers['content-length']), accept).toBe(gzipped.body.length);
        expect(gzipped.body.length, accept).toBeLessThan(identity.body.length);
        expect(gunzipSync(gzipped.body).equals(identity.body), accept).toBe(true);
      }
      // HEAD answers the headers GET would.
      const head = await rawGet(server.url, bundle, 'gzip', 'HEAD');
      expect(head.headers['content-encoding']).toBe('gzip');
      expect(head.body).toHaveLength(0);

      for (const accept of ['gzip;q=0', 'identity', 'gzip;q=0, *', '']) {
        const plain = await rawGet(server.url, bundle, accept);
        expect(plain.headers['content-encoding'], accept).toBeUndefined();
        expect(plain.headers.vary?.toLowerCase(), accept).toContain('accept-encoding');
        expect(plain.body.equals(identity.body), accept).toBe(true);
      }

      // Hashes do not compress: a hash tile is never gzipped and does not vary with the header.
      for (const accept of [undefined, 'gzip']) {
        const tile = await rawGet(server.url, hashTile, accept);
        expect(tile.status).toBe(200);
        expect(tile.headers['content-encoding']).toBeUndefined();
        expect(tile.headers.vary?.toLowerCase() ?? '').not.toContain('accept-encoding');
        expect(tile.body).toHaveLength(32 * w);
      }

      // timestamp-cli's reader (fetch, Accept-Encoding: gzip, identity) gets the bundle decoded.
      const viaCli = await getLogResource(server.url, bundle.slice('/api/v1/log/'.length), 5000);
      expect(viaCli?.equals(identity.body)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('serves tiles and entry bundles asked for in absolute form (RFC 9112 section 3.2.2) as in origin form', async () => {
    // A log of its own: earlier tests' checkpoints are signed by other keys.
    await emptyLog();
    const server = await start(logFlags('absolute'));
    try {
      const issued = await timestamp(server, 0);
      expect(issued.granted).toBe(true);
      const index = Number(issued.logIndex);
      const size = await treeSizeBeyond(server, index);
      const n = Math.floor(index / 256);
      const w = Math.min(256, size - n * 256);
      for (const l of [0, -1]) {
        const path = `/api/v1/log/${tilePath({ h: 8, l, n, w })}`;
        const origin = await rawRequest(server.url, 'GET', path);
        expect(origin.status, path).toBe(200);
        // Was: 400 "malformed tile path", while the checkpoint was served so.
        const absolute = await rawRequest(server.url, 'GET', `http://tsa${path}?x=1`);
        expect(absolute.status, path).toBe(200);
        expect(absolute.headers['cache-control'], path).toBe(origin.headers['cache-control']);
        expect(absolute.body.equals(origin.body), path).toBe(true);
        // A method the router does not route: 405 at a tile as at any path of ours (was: 404).
        const trace = await rawRequest(server.url, 'TRACE', `http://tsa${path}`);
        expect(trace.status, path).toBe(405);
        expect(trace.headers.allow, path).toBe('GET, HEAD');
      }
      // Still read as sent, not decoded.
      const encoded = await rawRequest(server.url, 'GET', 'http://tsa/api/v1/log/tile/0/%30%30%30');
      expect(encoded.status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('serves the log routes 503 with Retry-After while the database is down, and 405 for other methods', async () => {
    const server = await start(logFlags('outage'));
    const paths = [
      '/api/v1/log/checkpoint',
      '/api/v1/log/proof?serial=01',
      '/api/v1/log/tile/0/000.p/1',
      '/api/v1/log/tile/entries/000.p/1',
    ];
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
      await waitUntil(async () => (await fetch(`${server.url}/api/v1/log/checkpoint`)).ok);
      for (const method of ['POST', 'PUT', 'DELETE', 'TRACE']) {
        for (const path of [...paths, '/api/v1/log/key']) {
          const response = await rawRequest(server.url, method, path);
          expect(response.status, `${method} ${path}`).toBe(405);
          expect(response.headers.allow, `${method} ${path}`).toBe('GET, HEAD');
        }
      }

      const linesBefore = logLines.length;
      await postgres.stop();
      for (const path of paths) {
        const response = await fetch(`${server.url}${path}`);
        expect(response.status, path).toBe(503);
        expect(response.headers.get('retry-after'), path).toBe('1');
        expect(response.headers.get('cache-control'), path).toBe('no-store');
        expect(await response.json(), path).toEqual({
          code: 503,
          message: 'the log is not available',
        });
      }
      // Said once per request as an outage, without a stack; never as a timestamp error.
      const lines = logLines.slice(linesBefore).join('');
      expect(lines).toContain('log database unavailable');
      expect(lines).not.toContain('Error generating timestamp response');
      expect(lines).not.toContain('"stack"');
      // Counted by route, apart from 404 scanners' `unrecognized`: a log outage can be alerted on.
      const metrics = await (await fetch(server.metricsUrl)).text();
      for (const route of ['checkpoint', 'proof', 'tile/*'])
        expect(metrics).toMatch(
          new RegExp(
            `timestamp_authority_http_requests_total\\{code="503",path="/api/v1/log/${route.replace('*', '\\*')}",method="GET"\\} \\d+`,
          ),
        );
    } finally {
      await postgres.start();
      await server.close();
    }
  });

  it('serves the log routes 503 when the database stops answering (frozen), not 500', async () => {
    const server = await start(logFlags('frozen'));
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
      // Read once: the read pool keeps the connection, on which the next read waits for an answer.
      await waitUntil(async () => (await fetch(`${server.url}/api/v1/log/checkpoint`)).ok);
      const linesBefore = logLines.length;
      const thaw = await postgres.freeze();
      let response: Response;
      let body: unknown;
      try {
        response = await fetch(`${server.url}/api/v1/log/checkpoint`);
        body = await response.json();
      } finally {
        thaw();
      }
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(body).toEqual({ code: 503, message: 'the log is not available' });
      // pg gave up waiting (its query_timeout): an outage, said at WARN without a stack.
      const lines = logLines.slice(linesBefore).join('');
      expect(lines).toMatch(/"reason":"Query read timeout".*"msg":"log database unavailable"/);
      expect(lines).not.toContain('cannot read the transparency log');
      expect(lines).not.toContain('"stack"');
      // Thawed: the log is read again.
      await waitUntil(async () => (await fetch(`${server.url}/api/v1/log/checkpoint`)).ok);
    } finally {
      await server.close();
    }
  });

  it('never lets a cache keep a log refusal: no-store on every 400, 404 and 503 of the log routes', async () => {
    // A log of its own (run alone: no tables yet), and no sequencer can sign while this session
    // holds its lock.
    await emptyLog();
    const locker = await db.connect();
    await locker.query('SELECT pg_advisory_lock($1)', [SEQUENCER_LOCK]);
    let server: RunningServer | undefined;
    try {
      server = await start(logFlags('nostore'));
      const issued = await timestamp(server, 0);
      expect(issued.granted).toBe(true);
      const serial = Buffer.from(
        decodeResponse(issued.der).tstInfo!.serialNumber.valueBlock.valueHexView,
      ).toString('hex');
      const refusals: [string, number][] = [
        ['/api/v1/log/checkpoint', 503], // before the first checkpoint
        [`/api/v1/log/proof?serial=${serial}`, 404], // not in a checkpoint yet
        ['/api/v1/log/proof?serial=0badc0ffee', 404], // unknown
        ['/api/v1/log/proof?serial=xyz', 400],
        ['/api/v1/log/tile/0/000', 404], // beyond the (absent) checkpoint
        ['/api/v1/log/tile/entries/000.p/1', 404],
        ['/api/v1/log/tile/0/x', 400],
        // Not cleaned as the Go routes are: a tile has one URL (and one cache key).
        ['/api/v1/log/tile/0/000/', 400],
      ];
      for (const [path, status] of refusals) {
        for (const method of ['GET', 'HEAD']) {
          const response = await fetch(`${server.url}${path}`, { method });
          expect(response.status, `${method} ${path}`).toBe(status);
          expect(response.headers.get('cache-control'), `${method} ${path}`).toBe('no-store');
        }
      }
      // A #fragment (which fetch never sends) names no resource: 404, not a 405 that allows GET.
      for (const path of ['/api/v1/log/tile/0/000#x', '/api/v1/log/checkpoint#x']) {
        const response = await rawRequest(server.url, 'GET', path);
        expect(response.status, path).toBe(404);
        expect(response.headers['cache-control'], path).toBe('no-store');
      }
      // Once signed, the proof is served as before (no-cache, not no-store).
      await locker.query('SELECT pg_advisory_unlock($1)', [SEQUENCER_LOCK]);
      await treeSizeBeyond(server, Number(issued.logIndex));
      const proof = await fetch(`${server.url}/api/v1/log/proof?serial=${serial}`);
      expect(proof.status).toBe(200);
      expect(proof.headers.get('cache-control')).toBe('no-cache');
    } finally {
      await locker.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      locker.release();
      await server?.close();
    }
  });

  it('never signs a checkpoint inconsistent with the previous one', async () => {
    const warnings: string[] = [];
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    // A log of its own: earlier tests' checkpoints are signed by other keys.
    await db.query('TRUNCATE tsa_log_checkpoints, tsa_log_hashes');
    const sequencer = new Sequencer(db, {
      signer: newEd25519Signer('tsa.test/anchor', privateKey),
      origin: 'tsa.test/anchor',
      verifierKey: verifierKey('tsa.test/anchor', publicKey),
      intervalMs: 60_000,
      logger: { info: () => undefined, warn: (_fields, message) => void warnings.push(message) },
    });
    const server = await start();
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
      await sequencer.round();
      const before = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tsa_log_checkpoints',
      );
      // The stored hashes of the signed tree change (a bad disk, a bad actor), then a token comes.
      await db.query('UPDATE tsa_log_hashes SET hash = sha256(hash)');
      expect((await timestamp(server, 1)).granted).toBe(true);
      await sequencer.round();
      const after = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tsa_log_checkpoints',
      );
      expect(before.rows[0]!.n).toBe(1);
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
      expect(warnings).toContain('transparency log sequencer round failed');
    } finally {
      await sequencer.stop();
      await server.close();
    }
  });

  it('refuses a --ledger-key that is not an Ed25519 PKCS#8 PEM file', async () => {
    const rsaPath = join(postgres.dir, 'rsa.pem');
    writeFileSync(
      rsaPath,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    await expect(start({ ledgerKey: rsaPath, ledgerOrigin: 'tsa.test/x' })).rejects.toThrow(
      /is not an Ed25519 key/,
    );
    await expect(
      start({ ledgerKey: join(postgres.dir, 'missing.pem'), ledgerOrigin: 'tsa.test/x' }),
    ).rejects.toThrow(/reading --ledger-key .*ENOENT/);
  });

  it('with --ledger-key, refuses a database that cannot store a checkpoint note unchanged', async () => {
    const urlOf = async (encoding: string) => {
      const name = `tsa_${encoding.toLowerCase()}`;
      await db.query(`DROP DATABASE IF EXISTS ${name}`);
      await db.query(
        `CREATE DATABASE ${name} ENCODING '${encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
      );
      return postgres.urlWithoutPassword.replace(/\/tsa$/, `/${name}`);
    };
    const log = logFlags('encoding');
    // LATIN1 has no em dash (U+2014), which starts every signature line: no checkpoint would
    // ever be stored.
    const latin1 = await urlOf('LATIN1');
    await expect(start({ ...log, ledgerUrl: latin1 })).rejects.toThrow(
      /encoding LATIN1 cannot store the log's checkpoint notes unchanged.*UTF8/,
    );
    // The ledger alone stores no text that could be lost: it starts.
    await (await start({ ledgerUrl: latin1 })).close();

    // SQL_ASCII stores the bytes as sent and gives them back: the log works.
    const server = await start({ ...log, ledgerUrl: await urlOf('SQL_ASCII') });
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
      await waitUntil(async () => (await fetch(`${server.url}/api/v1/log/checkpoint`)).ok);
      const note = await (await fetch(`${server.url}/api/v1/log/checkpoint`)).text();
      expect(note).toMatch(/^tsa\.test\/encoding\n1\n.*\n\n\u2014 tsa\.test\/encoding /s);
    } finally {
      await server.close();
    }
  });

  it('logs no password given as a ?password= query parameter of --ledger-url', async () => {
    const from = logLines.length;
    const server = await start({
      ledgerUrl: `${postgres.urlWithoutPassword}?password=${postgres.password}`,
      ledgerPasswordFile: '',
    });
    try {
      expect((await timestamp(server, 0)).granted).toBe(true);
    } finally {
      await server.close();
    }
    const lines = logLines.slice(from).join('');
    expect(lines).toContain('issuance ledger: postgres://tsa@127.0.0.1');
    expect(lines).toContain('password=***');
    expect(lines).not.toContain(postgres.password);
  });

  it('refuses to start without a reachable database, naming no password', async () => {
    await expect(
      start({ ledgerUrl: 'postgres://tsa:hunter2secret@127.0.0.1:1/tsa', ledgerPasswordFile: '' }),
    ).rejects.toThrow(/ledger database/);
    await expect(
      start({ ledgerUrl: 'postgres://tsa:hunter2secret@127.0.0.1:1/tsa', ledgerPasswordFile: '' }),
    ).rejects.not.toThrow(/hunter2secret/);
  });
});

/**
 * One request as written (fetch cannot send TRACE, nor an absolute-form target): its status,
 * headers and body (as it came: the answers here have a Content-Length).
 */
async function rawRequest(url: string, method: string, path: string) {
  const { hostname, port } = new URL(url);
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      // Not end(): the server would drop a connection half-closed before an answer it awaits.
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: tsa\r\nConnection: close\r\n\r\n`),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const headEnd = received.indexOf('\r\n\r\n');
  const head = received.subarray(0, headEnd).toString('latin1');
  const body = received.subarray(headEnd + 4);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** A GET (or HEAD) through node:http, which leaves the body encoded as it came. */
async function rawGet(
  url: string,
  path: string,
  acceptEncoding?: string,
  method = 'GET',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding };
    const request = httpRequest(new URL(path, url), { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

/** The size of the first checkpoint whose tree holds entry `index`, once one is published. */
async function treeSizeBeyond(server: RunningServer, index: number): Promise<number> {
  let size = 0;
  await waitUntil(async () => {
    const checkpoint = await fetch(`${server.url}/api/v1/log/checkpoint`);
    size = checkpoint.ok ? Number((await checkpoint.text()).split('\n')[1]) : 0;
    return size > index;
  });
  return size;
}
