import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AUDIT_PROBE_INTERVAL_MS,
  AuditLog,
  type OpenAuditFile,
} from '../../../src/server/audit-log-file.js';
import { openProcessAuditLog } from '../../../src/server/audit-log.js';
import { buildServer } from '../../../src/server/app.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ProcessLedger } from '../../../src/ledger/process-ledger.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import type { AuditRecord } from '../../../src/server/audit-record.js';
import { RecordError, type GrantedOutcome } from '../../../src/tsp/authority.js';
import { openAuditFileWith } from '../../helpers/audit-file.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { replyStatus } from '../../helpers/remote-tsa.js';
import { childEnvironment } from '../../helpers/process.js';
import { derSeeds, grantableRequest, SEED_DATA } from '../../helpers/seeds.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-logged-server.js';
import {
  fatalMessages,
  runCli as runServer,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';
import { createTestServer, silentLogger } from '../../helpers/tsa.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratch() {
  const dir = tempDir();
  cleanups.push(dir.cleanup);
  return dir;
}

const readLines = (path: string): AuditRecord[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditRecord);

function post(url: string, body: Uint8Array, contentType = 'application/timestamp-query') {
  return fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
}

/** The serial number openssl reads from a TimeStampResp, lower-case hex without leading zeros. */
async function serialOf(response: Uint8Array): Promise<string> {
  const dir = scratch();
  const text = await openssl(['ts', '-reply', '-in', dir.write('reply.tsr', response), '-text']);
  const serial = /Serial number: 0x([0-9A-F]+)/.exec(text)?.[1];
  if (!serial) throw new Error(text);
  return serial.toLowerCase();
}

describe('audit log', () => {
  it('has a complete line for a granted token by the time the client holds it', async () => {
    const dir = scratch();
    const path = dir.path('audit.jsonl');
    const { app } = await createTestServer({ auditLog: path });
    cleanups.push(() => app.close());
    const request = derSeeds.get('sha256-policy.tsq') as Buffer;
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query', 'x-request-id': 'audit-1' },
      payload: request,
      remoteAddress: '192.0.2.7',
    });
    expect(response.statusCode).toBe(200);
    const [line] = readLines(path);
    const queryText = await openssl(['ts', '-query', '-in', dir.write('q.tsq', request), '-text']);
    const nonce = BigInt(/Nonce: (0x[0-9A-F]+)/.exec(queryText)?.[1] ?? 'x').toString();
    expect(line).toMatchObject({
      requestId: 'audit-1',
      client: '192.0.2.7',
      status: 'granted',
      httpStatus: 200,
      serialNumber: await serialOf(response.rawPayload),
      hashAlgorithm: 'sha256',
      hashedMessage: createHash('sha256').update(SEED_DATA).digest('hex'),
      policy: '1.3.6.1.4.1.57264.2',
      nonce,
      certReq: true,
    });
    expect(new Date(line?.genTime ?? '').getTime()).toBeGreaterThan(0);
  });

  it('records rejections, including those refused before the handler (415, 413)', async () => {
    const dir = scratch();
    const path = dir.path('audit.jsonl');
    const { app } = await createTestServer({ auditLog: path, maxRequestBodySize: 1000 });
    const send = (payload: Buffer, contentType: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': contentType },
        payload,
      });
    expect(
      (await send(derSeeds.get('sha1-weak.tsq') as Buffer, 'application/timestamp-query'))
        .statusCode,
    ).toBe(200); // a DER rejection: the TimeStampResp with HTTP 200 (--der-rejection-status=rfc)
    expect((await send(Buffer.from('x'), 'text/plain')).statusCode).toBe(415);
    expect((await send(Buffer.alloc(2000), 'application/timestamp-query')).statusCode).toBe(413);
    await app.close(); // flushes the background rejection lines
    const lines = readLines(path);
    expect(lines.map((line) => [line.status, line.httpStatus, line.failInfo])).toEqual([
      ['rejection', 200, 'badAlg'],
      ['rejection', 415, undefined],
      ['rejection', 413, undefined],
    ]);
  });

  it('records a rate-limited request (429) and the client address from a trusted proxy', async () => {
    const path = scratch().path('audit.jsonl');
    const { app } = await createTestServer({
      auditLog: path,
      rateLimitMax: 1,
      trustedProxies: ['127.0.0.1'],
    });
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: {
          'content-type': 'application/timestamp-query',
          'x-forwarded-for': '198.51.100.4',
        },
        payload: grantableRequest(),
      });
    expect((await send()).statusCode).toBe(200);
    expect((await send()).statusCode).toBe(429);
    await app.close();
    expect(readLines(path).map((line) => [line.status, line.httpStatus, line.client])).toEqual([
      ['granted', 200, '198.51.100.4'],
      ['rejection', 429, '198.51.100.4'],
    ]);
  });

  it('withholds the token (503 systemFailure, Retry-After) when its line cannot be written', async () => {
    const path = scratch().path('full.jsonl');
    const config = resolveServeConfig({ auditLog: path });
    const tsa = await createAuthority(config, silentLogger);
    // A full disk: every write fails.
    const enospc = () =>
      Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const app = await buildServer({
      config,
      authority: tsa.authority,
      chainPem: tsa.chainPem,
      logger: silentLogger,
      openAuditFile: (file) =>
        openAuditFileWith(file, () => ({
          appendFile: async () => {
            throw enospc();
          },
        })),
    });
    cleanups.push(() => app.close());
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: grantableRequest(),
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe(String(AUDIT_PROBE_INTERVAL_MS / 1000));
    const dir = scratch();
    const text = await replyStatus(response.rawPayload, dir);
    expect(text).toMatch(/Status: Rejected/);
    expect(text).toMatch(/system failure/i);
  });

  it("names the serial number of a token the ledger did not keep in the rejection's line", async () => {
    const path = scratch().path('ledger-down.jsonl');
    const config = resolveServeConfig({ auditLog: path });
    const tsa = await createAuthority(config, silentLogger);
    let offered: string | undefined;
    // A ledger whose database went away between the guard and the commit.
    const ledger = {
      record: (granted: GrantedOutcome) => {
        offered = granted.serialNumber;
        return Promise.reject(
          new RecordError('NOT_RECORDED', 'the ledger database is unavailable', {
            temporary: true,
          }),
        );
      },
    } as unknown as ProcessLedger;
    const app = await buildServer({
      config,
      authority: tsa.authority,
      chainPem: tsa.chainPem,
      logger: silentLogger,
      ledger,
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: grantableRequest(),
    });
    await app.close();
    expect(response.statusCode).toBe(503);
    expect(offered).toEqual(expect.any(String));
    expect(readLines(path)).toEqual([
      expect.objectContaining({
        status: 'rejection',
        httpStatus: 503,
        failInfo: 'systemFailure',
        withheldSerialNumber: offered,
      }),
    ]);
  });

  it('writes appends made one after another (each right after the previous one resolved)', async () => {
    const path = scratch().path('sequential.jsonl');
    const log = await AuditLog.open(path);
    cleanups.push(() => log.close());
    // The second append comes before the first round's loop has let go of the file.
    for (let i = 0; i < 5; i++) await log.append({ i });
    expect(readLines(path)).toHaveLength(5);
  });

  it('group-commits concurrent appends into few write+fsync rounds', async () => {
    const path = scratch().path('group.jsonl');
    const log = await AuditLog.open(path);
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ i })));
    // The first append starts a round alone; the other 99 arrive during it and share the next.
    expect(log.commits).toBe(2);
    await log.close();
    expect(readLines(path).map((line) => (line as unknown as { i: number }).i)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});

type Fault = 'torn-write' | 'datasync' | 'truncate';

/**
 * Opens the real file, with faults to inject: `torn-write` writes half of the data and then fails
 * as a full disk does, `datasync` fails after the whole write, `truncate` fails the next cut.
 */
function faultyFiles() {
  const faults: Fault[] = [];
  const enospc = () =>
    Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const opener: OpenAuditFile = (path) =>
    openAuditFileWith(path, (real) => ({
      appendFile: async (data) => {
        if (faults[0] !== 'torn-write') return real.appendFile(data);
        faults.shift();
        await real.appendFile(data.slice(0, data.length >> 1));
        throw enospc();
      },
      datasync: async () => {
        if (faults[0] !== 'datasync') return real.datasync();
        faults.shift();
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
      truncate: async (length) => {
        if (faults[0] !== 'truncate') return real.truncate(length);
        faults.shift();
        throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      },
    }));
  return { opener, inject: (...next: Fault[]) => faults.push(...next) };
}

const wholeLines = (path: string) => {
  const text = readFileSync(path, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
};

describe('audit log after a failed write (full disk, I/O error)', () => {
  it('cuts a torn write back to the last whole record; the next record is whole', async () => {
    const path = scratch().path('torn.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    await log.append({ n: 1, status: 'granted' });
    files.inject('torn-write');
    await expect(log.append({ n: 2, status: 'granted', serialNumber: 'withheld' })).rejects.toThrow(
      /ENOSPC/,
    );
    // Cut at once, not only when the next record comes.
    expect(readFileSync(path, 'utf8')).toBe('{"n":1,"status":"granted"}\n');
    await log.append({ n: 3, status: 'rejection' });
    expect(wholeLines(path)).toEqual([
      { n: 1, status: 'granted' },
      { n: 3, status: 'rejection' },
    ]);
  });

  it('removes a whole batch whose fdatasync failed (its tokens were withheld)', async () => {
    const path = scratch().path('datasync.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    files.inject('datasync');
    await expect(log.append({ n: 2 })).rejects.toThrow(/EIO/);
    await log.append({ n: 3 });
    expect(wholeLines(path)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('cuts before the next write when the first cut failed too', async () => {
    const path = scratch().path('truncate.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    files.inject('torn-write', 'truncate');
    await expect(log.append({ n: 2, status: 'granted' })).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(path, 'utf8')).not.toMatch(/\n$/); // the fragment is still there
    await log.append({ n: 3 });
    expect(wholeLines(path)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it("cuts a failed batch's fragment from the old file before a reopen (SIGHUP) lets it go", async () => {
    const path = scratch().path('rotated-torn.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    // The cut after the failed write fails too: the fragment stays until the next cut.
    files.inject('torn-write', 'truncate');
    await expect(log.append({ n: 2, status: 'granted', serialNumber: 'withheld' })).rejects.toThrow(
      /ENOSPC/,
    );
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2,"status":"granted",');
    renameSync(path, `${path}.1`);
    await log.reopen();
    // The rotated file ends at its last whole record, without the withheld token's line.
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('{"n":1}\n');
    await log.append({ n: 3 });
    expect(wholeLines(path)).toEqual([{ n: 3 }]);
  });

  it('keeps the old file and fails the reopen when the fragment cannot be cut', async () => {
    const path = scratch().path('rotated-uncut.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    await log.append({ n: 1 });
    // The cut after the failed write, and the one before the reopen, fail.
    files.inject('torn-write', 'truncate', 'truncate');
    await expect(log.append({ n: 2, status: 'granted' })).rejects.toThrow(/ENOSPC/);
    renameSync(path, `${path}.1`);
    await expect(log.reopen()).rejects.toMatchObject({ code: 'EIO' });
    // Nothing was opened at the path; the old file is still written, cut first.
    expect(existsSync(path)).toBe(false);
    await log.append({ n: 3 });
    expect(wholeLines(`${path}.1`)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('after an outside truncation (copytruncate), a failed write is cut without NULs', async () => {
    const path = scratch().path('copytruncate.jsonl');
    const files = faultyFiles();
    const log = await AuditLog.open(path, files.opener);
    cleanups.push(() => log.close());
    for (let n = 0; n < 20; n++) await log.append({ n });
    truncateSync(path, 0);
    await log.append({ n: 20 });
    files.inject('torn-write');
    await expect(log.append({ n: 21, status: 'granted' })).rejects.toThrow(/ENOSPC/);
    await log.append({ n: 22 });
    expect(readFileSync(path, 'utf8')).not.toContain('\0');
    expect(wholeLines(path)).toEqual([{ n: 20 }, { n: 22 }]);
  });

  it('cuts a partial record left by a crash when it opens the file', async () => {
    const path = scratch().path('crashed.jsonl');
    writeFileSync(path, '{"n":1}\n{"n":2,"status":"gra');
    const log = await AuditLog.open(path);
    cleanups.push(() => log.close());
    expect(log.repairedBytes).toBe('{"n":2,"status":"gra'.length);
    await log.append({ n: 3 });
    expect(wholeLines(path)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('answers systemFailure for the torn record and grants the next one on whole lines', async () => {
    const path = scratch().path('server.jsonl');
    const files = faultyFiles();
    const config = resolveServeConfig({ auditLog: path });
    const tsa = await createAuthority(config, silentLogger);
    const app = await buildServer({
      config,
      authority: tsa.authority,
      chainPem: tsa.chainPem,
      logger: silentLogger,
      openAuditFile: files.opener,
    });
    cleanups.push(() => app.close());
    const post = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: grantableRequest(),
      });
    expect((await post()).statusCode).toBe(200);
    files.inject('torn-write');
    const refused = await post();
    // The disk's failure is an outage, as for the requests after it: 503 with Retry-After.
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe(String(AUDIT_PROBE_INTERVAL_MS / 1000));
    const reply = await openssl([
      'ts',
      '-reply',
      '-in',
      scratch().write('r.tsr', refused.rawPayload),
      '-text',
    ]);
    expect(reply).toMatch(/system failure/i);
    expect((await post()).statusCode).toBe(200);
    await app.close();
    const lines = wholeLines(path);
    // granted, the withheld one's rejection (written after the cut), granted: no fragment.
    expect(lines.map((line) => [line.status, line.httpStatus])).toEqual([
      ['granted', 200],
      ['rejection', 503],
      ['granted', 200],
    ]);
    const withheld = lines[1]!.withheldSerialNumber;
    expect(withheld).toEqual(expect.any(String));
    expect(lines.filter((line) => line.serialNumber === withheld)).toEqual([]);
  });
});

describe('an audit log that is not a regular file', () => {
  it.each([
    ['/dev/null', () => '/dev/null'],
    ['/dev/full', () => '/dev/full'],
    [
      'a FIFO',
      () => {
        const fifo = scratch().path('audit.fifo');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
    ],
  ])('is refused when opened, where fdatasync fails on it: %s', async (_name, pathOf) => {
    const path = pathOf();
    await expect(AuditLog.open(path)).rejects.toMatchObject({
      code: 'AUDIT_LOG_NOT_DURABLE',
      message: expect.stringMatching(
        new RegExp(
          `^--audit-log ${path} is not a regular file and cannot be fdatasync'ed \\(EINVAL\\)`,
        ),
      ),
    });
  });

  it('keeps a device whose fdatasync works (nothing of it is ever cut)', async () => {
    const path = scratch().path('device.jsonl');
    const synced: string[] = [];
    // A regular file seen as a device: its stat says it is not one.
    const log = await AuditLog.open(path, (file) =>
      openAuditFileWith(file, (real) => ({
        stat: async () => ({ size: 0, nlink: 1, isFile: () => false }),
        datasync: async () => {
          synced.push('datasync');
          return real.datasync();
        },
      })),
    );
    cleanups.push(() => log.close());
    expect(synced).toEqual(['datasync']);
    await log.append({ n: 1 });
    expect(readLines(path)).toEqual([{ n: 1 }]);
  });

  it('stops the server at start-up with one line naming --audit-log and exit status 1', async () => {
    const server = runServer([
      ...SERVE_ON_EPHEMERAL_PORTS,
      '--disable-ntp-monitoring',
      '--audit-log',
      '/dev/null',
    ]);
    expect(await server.exited).toBe(1);
    expect(fatalMessages(server.stdout())).toEqual([
      expect.stringMatching(
        /^cannot start: --audit-log \/dev\/null is not a regular file and cannot be fdatasync'ed \(EINVAL\)/,
      ),
    ]);
  });
});

describe('audit log at shutdown', () => {
  it('stops waiting for an fdatasync that never returns once the grace is over, logging what it abandons', async () => {
    const path = scratch().path('stalled.jsonl');
    let release = (): void => undefined;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(() => release());
    let syncing = (): void => undefined;
    const syncStarted = new Promise<void>((resolve) => (syncing = resolve));
    const opener: OpenAuditFile = (file) =>
      openAuditFileWith(file, (real) => ({
        datasync: async () => {
          syncing();
          await stalled;
          return real.datasync();
        },
        close: async () => {
          await stalled; // as FileHandle.close waits for the stalled call
          return real.close();
        },
      }));
    const errors: { fields: unknown; message: string }[] = [];
    const logger = {
      ...silentLogger,
      error: (fields: unknown, message: string) => errors.push({ fields, message }),
    } as unknown as typeof silentLogger;
    let graceOver = (): void => undefined;
    const grace = new Promise<void>((resolve) => (graceOver = resolve));
    const processLog = await openProcessAuditLog(resolveServeConfig({ auditLog: path }), logger, {
      openFile: opener,
      closeGrace: () => grace,
    });
    const inFlight = processLog!.log.append({ n: 1 });
    await syncStarted;
    const queued = processLog!.log.append({ n: 2 });
    // Handled from now on: they are rejected during the dispose, which then releases the lock
    // file (real I/O), before the expectations below look at them.
    inFlight.catch(() => undefined);
    queued.catch(() => undefined);
    const closed = processLog![Symbol.asyncDispose]();
    graceOver();
    await closed;
    await expect(inFlight).rejects.toThrow(/closed/);
    await expect(queued).rejects.toThrow(/closed/);
    expect(errors).toEqual([
      { fields: { path, records: 2 }, message: expect.stringContaining('2 records') },
    ]);
  });
});

describe('audit log in a running server', () => {
  let server: SpawnedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('reopens the file on SIGHUP (log rotation)', async () => {
    const dir = scratch();
    const path = dir.path('audit.jsonl');
    server = await spawnServer(['--audit-log', path]);
    expect((await post(server.url, grantableRequest())).status).toBe(200);
    renameSync(path, dir.path('audit.jsonl.1'));
    server.child.kill('SIGHUP');
    await server.waitForLine(/audit log reopened/);
    expect((await post(server.url, grantableRequest())).status).toBe(200);
    expect(readLines(dir.path('audit.jsonl.1'))).toHaveLength(1);
    expect(readLines(path)).toHaveLength(1);
    expect(server.child.exitCode).toBeNull();
  });

  it('fdatasyncs the line before the response leaves (strace)', async () => {
    const dir = scratch();
    const path = dir.path('audit.jsonl');
    const trace = dir.path('trace.txt');
    server = await spawnServer(['--audit-log', path]);
    const strace = spawn(
      'strace',
      [
        '-f',
        '-s',
        '4096',
        '-e',
        'trace=fdatasync,write,writev',
        '-e',
        'signal=none',
        '-o',
        trace,
        '-p',
        String(server.child.pid),
      ],
      { env: childEnvironment(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const straceExited = new Promise((resolve) => strace.once('exit', resolve));
    cleanups.push(() => {
      strace.kill();
      return straceExited;
    });
    // "Process N attached with M threads": -f -p seizes every thread (fdatasync runs on libuv's pool).
    await new Promise<void>((resolve, reject) => {
      strace.stderr.setEncoding('utf8');
      strace.stderr.on('data', (text: string) => text.includes('attached') && resolve());
      strace.once('exit', (code) => reject(new Error(`strace exited with ${code}`)));
    });
    const response = await post(server.url, grantableRequest());
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(await server.stop()).toBe(0);
    await straceExited;

    const lines = readFileSync(trace, 'utf8').split('\n');
    // The audit fd is the one the granted line goes to.
    const fd = lines.map((line) => /\bwritev?\((\d+), .*\\"granted/.exec(line)?.[1]).find(Boolean);
    expect(fd).toBeDefined();
    const lineWritten = lines.findIndex((line) =>
      new RegExp(`\\bwritev?\\(${fd}, .*\\\\"granted`).test(line),
    );
    const synced = lines.findIndex((line) => new RegExp(`fdatasync\\(${fd}\\) += 0`).test(line));
    const responded = lines.findIndex((line) => /\bwritev?\(\d+, .*"HTTP\/1\.1 200/.test(line));
    expect(lineWritten).toBeGreaterThanOrEqual(0);
    expect(synced).toBeGreaterThan(lineWritten);
    expect(responded).toBeGreaterThan(synced);
  });
});

// strace is a test dependency (scripts/install-test-deps.sh); fail with the fix if it is missing.
try {
  execFileSync('strace', ['-V'], { stdio: 'ignore' });
} catch {
  throw new Error('strace is not installed: run `make test-deps`');
}
