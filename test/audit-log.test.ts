import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/server/audit-log.js';
import type { AuditRecord } from '../src/server/audit-record.js';
import { openssl, tempDir } from './helpers/openssl.js';
import { derSeeds, grantableRequest, SEED_DATA } from './helpers/seeds.js';
import { spawnServer, type SpawnedServer } from './helpers/spawn-logged-server.js';
import { createTestServer } from './helpers/tsa.js';

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

  it('withholds the token (500 systemFailure) when its line cannot be written', async () => {
    const { app } = await createTestServer({ auditLog: '/dev/full' });
    cleanups.push(() => app.close());
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: grantableRequest(),
    });
    expect(response.statusCode).toBe(500);
    const dir = scratch();
    const text = await openssl([
      'ts',
      '-reply',
      '-in',
      dir.write('r.tsr', response.rawPayload),
      '-text',
    ]);
    expect(text).toMatch(/Status: Rejected/);
    expect(text).toMatch(/system failure/i);
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
      { stdio: ['ignore', 'ignore', 'pipe'] },
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
