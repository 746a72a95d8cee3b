import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request } from 'node:https';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import type { AuditRecord } from '../../../src/server/audit-record.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { tempDir } from '../../helpers/openssl.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { silentLogger } from '../../helpers/tsa.js';

// The HTTP and HTTPS listeners of one process share its audit log and its rate limit.

const dir = tempDir();
const tls = selfSignedTls();
const cert = dir.write('server.pem', tls.cert);
const key = dir.write('server.key', tls.key);

afterAll(() => dir.cleanup());

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const start = (
  flags: Partial<Record<ServeOptionName, unknown>>,
  openAuditFile?: (path: string) => ReturnType<typeof open>,
) =>
  startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      tlsPort: 0,
      disableNtpMonitoring: true,
      tlsCertificate: cert,
      tlsKey: key,
      ...flags,
    }),
    silentLogger,
    openAuditFile ? { openAuditFile } : {},
  );

/** POSTs a grantable request over HTTP (fetch) or HTTPS/1.1; resolves with the status. */
async function stamp(url: string, requestId: string): Promise<number> {
  const headers = { 'content-type': 'application/timestamp-query', 'x-request-id': requestId };
  const body = grantableRequest();
  if (url.startsWith('http:')) {
    const response = await fetch(`${url}/api/v1/timestamp`, { method: 'POST', headers, body });
    await response.arrayBuffer();
    return response.status;
  }
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/api/v1/timestamp', url),
      { method: 'POST', headers, ca: tls.cert, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the HTTP and HTTPS listeners of one process', () => {
  it('write to one audit log, opened once with one SIGHUP handler, in the order answered', async () => {
    const path = dir.path('audit.jsonl');
    const opened: string[] = [];
    const hangupListeners = process.listenerCount('SIGHUP');
    server = await start({ auditLog: path }, (file) => {
      opened.push(file);
      return open(file, 'a+');
    });
    expect(process.listenerCount('SIGHUP')).toBe(hangupListeners + 1);
    expect(opened).toEqual([path]);
    const { url, tlsUrl } = server;
    const order = ['http-1', 'https-1', 'http-2', 'https-2', 'https-3'];
    for (const id of order)
      expect(await stamp(id.startsWith('https') ? tlsUrl! : url, id)).toBe(200);
    await server.close();
    server = undefined;
    expect(process.listenerCount('SIGHUP')).toBe(hangupListeners);
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditRecord);
    expect(lines.map((line) => [line.requestId, line.status])).toEqual(
      order.map((id) => [id, 'granted']),
    );
  });

  it('share one rate limit: 2 requests on HTTP and 1 on HTTPS exceed a limit of 2', async () => {
    server = await start({ rateLimitMax: 2, rateLimitWindow: 60 });
    expect(await stamp(server.url, 'a')).toBe(200);
    expect(await stamp(server.tlsUrl!, 'b')).toBe(200);
    expect(await stamp(server.url, 'c')).toBe(429);
    expect(await stamp(server.tlsUrl!, 'd')).toBe(429);
  });
});
