/**
 * The server-wide limits cover the profiles' routes too: one rate-limit quota per client across
 * POST /api/v1/timestamp and /api/v1/timestamp/<name>, and an audit line for a request refused
 * before the handler (429) on a profile's route, naming the profile.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/config/config-file.js';
import { resolveLayers } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { silentLogger } from '../../helpers/tsa.js';

const dir = tempDir();
let server: RunningServer;
let query: Buffer;

beforeAll(async () => {
  const config = dir.write(
    'timestamp-server.yaml',
    [
      'port: 0',
      'metrics-port: 0',
      'disable-ntp-monitoring: true',
      'rate-limit-max: 1',
      'rate-limit-window: 3600',
      `audit-log: ${dir.path('audit.log')}`,
      'profiles:',
      '  - {name: second, policy-oids: [1.2.3.4.300]}',
      '',
    ].join('\n'),
  );
  server = await startServer(resolveLayers([readConfigFile(config)]).config, silentLogger);
  const data = dir.write('data.txt', 'artifact');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', dir.path('q.tsq')]);
  query = readFileSync(dir.path('q.tsq'));
});
afterAll(async () => {
  await server?.close();
  dir.cleanup();
});

const post = (url: string) =>
  server.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/timestamp-query' },
    payload: query,
  });

const readAudit = () =>
  readFileSync(dir.path('audit.log'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The audit lines, once there are `count` of them (rejections are written in the background). */
async function auditLines(count: number) {
  await waitUntil(() => readAudit().length >= count, 25);
  return readAudit();
}

describe('server-wide limits with profiles', () => {
  it('counts one quota per client across the profiles and audits the refusals', async () => {
    expect((await post('/api/v1/timestamp/second')).statusCode).toBe(200);
    expect((await post('/api/v1/timestamp/second')).statusCode).toBe(429);
    expect((await post('/api/v1/timestamp')).statusCode).toBe(429);
    const lines = await auditLines(3);
    expect(lines.map((line) => line.httpStatus)).toEqual([200, 429, 429]);
    expect(lines[0]).toMatchObject({ status: 'granted', profile: 'second', policy: '1.2.3.4.300' });
    // Refused before it was read: a profile's path names the profile; on /api/v1/timestamp the
    // unread request's policy would have, so none is written.
    expect(lines.map((line) => line.profile)).toEqual(['second', 'second', undefined]);
  });
});
