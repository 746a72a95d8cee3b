import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readChrony } from '../../../src/clock/chrony-client.js';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import {
  freeUdpPort,
  startChronyClient,
  startNtpServer,
  type Chrony,
} from '../../helpers/chrony.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { until } from '../../helpers/sntp-responder.js';
import { silentLogger } from '../../helpers/tsa.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('clock gate against a real NTP server (chronyd, faketime)', () => {
  it('is synced, drifted within a period when the server runs 30 s ahead, then synced again', async () => {
    const port = await freeUdpPort();
    let chrony: Chrony = await startNtpServer({ port });
    cleanups.push(() => chrony.stop());

    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    // The Go YAML, shortened by configuration: one server, 1 s period and timeout.
    const ntpConfig = dir.write(
      'ntp.yaml',
      [
        'request_attempts: 1',
        'request_timeout: 1',
        'num_servers: 1',
        'server_threshold: 1',
        'max_time_delta: 1',
        'period: 1',
        'servers:',
        `  - "127.0.0.1:${port}"`,
        '',
      ].join('\n'),
    );
    const server = await startServer(
      resolveServeConfig({ host: '127.0.0.1', port: 0, metricsPort: 0, ntpMonitoring: ntpConfig }),
      silentLogger,
    );
    cleanups.push(() => server.close());
    const clock = server.clock!;

    const data = dir.write('data.txt', 'a timestamp is only worth its clock');
    const query = dir.path('request.tsq');
    await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
    const chain = dir.write(
      'chain.pem',
      await (await fetch(`${server.url}/api/v1/timestamp/certchain`)).text(),
    );
    const timestamp = async () => {
      const response = await fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: readFileSync(query),
      });
      const reply = dir.write('reply.tsr', new Uint8Array(await response.arrayBuffer()));
      return { status: response.status, reply, retryAfter: response.headers.get('retry-after') };
    };
    const status = async (path: string) => (await fetch(`${server.url}${path}`)).status;
    const expectIssuing = async () => {
      const { status: code, reply } = await timestamp();
      expect(code).toBe(200);
      const verified = await openssl([
        'ts',
        '-verify',
        '-in',
        reply,
        '-queryfile',
        query,
        '-CAfile',
        chain,
        '-partial_chain',
      ]);
      expect(verified).toContain('Verification: OK');
      expect([await status('/readyz'), await status('/ping'), await status('/livez')]).toEqual([
        200, 200, 200,
      ]);
    };

    await until(() => clock.status.state === 'synced', 'synced with chronyd');
    expect(Math.abs(clock.status.offsetMs!)).toBeLessThan(1000);
    await expectIssuing();

    // The same server, now serving a clock 30 s ahead.
    await chrony.stop();
    chrony = await startNtpServer({ port, skewSeconds: 30 });
    const roundsBefore = clock.status.rounds;
    await until(() => clock.status.state === 'drifted', 'drifted');
    // Within one period: the first round that could see the skewed server saw it.
    expect(clock.status.rounds).toBeLessThanOrEqual(roundsBefore + 2);
    expect(Math.abs(clock.status.offsetMs! - 30_000)).toBeLessThan(1000);

    const refused = await timestamp();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('10');
    const text = await openssl(['ts', '-reply', '-in', refused.reply, '-text']);
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain("the TSA's time source is not available");
    expect([await status('/readyz'), await status('/ping'), await status('/livez')]).toEqual([
      503, 503, 200,
    ]);

    // Restarted without skew: issuance resumes by itself.
    await chrony.stop();
    chrony = await startNtpServer({ port });
    await until(() => clock.status.state === 'synced', 'synced again');
    await expectIssuing();
  });
});

describe('reading a chronyd that hangs', () => {
  it('chronyc gives up by itself with its own words and leaves no reply socket', async () => {
    const client = await startChronyClient([]);
    cleanups.push(() => client.stop());
    const run = dirname(client.socket);
    const pid = Number(readFileSync(join(dirname(run), 'chronyd.pid'), 'utf8'));
    expect(readdirSync(run)).toEqual(['chronyd.sock']);
    process.kill(pid, 'SIGSTOP'); // the daemon hangs: its socket exists, nothing answers
    cleanups.push(() => process.kill(pid, 'SIGCONT'));
    // chronyc's own give-up (2 s, then 4 s) comes before this 8 s deadline.
    const error = await readChrony({ socket: client.socket, timeoutMs: 8000 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      code: 'CHRONYC_FAILED',
      message: 'chronyc: 506 Cannot talk to daemon',
    });
    expect(readdirSync(run)).toEqual(['chronyd.sock']);
  }, 30_000);
});
