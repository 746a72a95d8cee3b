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
import { holdTimers } from '../../helpers/held-timer.js';
import { ntpRelay } from '../../helpers/ntp-relay.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { until } from '../../helpers/sntp-responder.js';
import { silentLogger } from '../../helpers/tsa.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('clock gate against a real NTP server (chronyd, faketime)', () => {
  it('is synced, drifted within a period when the server runs 30 s ahead, then synced again', async () => {
    const right: Chrony = await startNtpServer({ port: await freeUdpPort() });
    cleanups.push(() => right.stop());
    const relay = await ntpRelay(right.port);
    cleanups.push(() => relay.close());

    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    // The Go YAML, shortened by configuration: one server, a 1 s period. A round on a busy machine
    // takes what it takes: request_timeout is a minute (at most max_time_delta, which --accuracy
    // 10s undercuts: the clock is held within 9.5 s, genTime's half second less).
    const ntpConfig = dir.write(
      'ntp.yaml',
      [
        'request_attempts: 1',
        'request_timeout: 60',
        'num_servers: 1',
        'server_threshold: 1',
        'max_time_delta: 60',
        'period: 1',
        'servers:',
        `  - "${relay.address}"`,
        '',
      ].join('\n'),
    );
    const server = await startServer(
      resolveServeConfig({
        host: '127.0.0.1',
        port: 0,
        metricsPort: 0,
        ntpMonitoring: ntpConfig,
        accuracy: '10s',
      }),
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
    // Synced: the offset and its error bound are within the threshold.
    expect(Math.abs(clock.status.offsetMs!)).toBeLessThan(9_500);
    await expectIssuing();

    // Another server, serving a clock 30 s ahead, in place of the first.
    const ahead: Chrony = await startNtpServer({ port: await freeUdpPort(), skewSeconds: 30 });
    cleanups.push(() => ahead.stop());
    relay.to(ahead.port);
    await until(() => clock.status.state === 'drifted', 'drifted');
    // Within one period: the first answer of the skewed server did it. (The next round starts a
    // period after that answer's: the wait above, polling every 10 ms, sees the state first.)
    expect(relay.answersFrom(ahead.port)).toBe(1);
    // Its 30 s, give or take half a round trip, which a busy machine can stretch to seconds.
    expect(Math.abs(clock.status.offsetMs! - 30_000)).toBeLessThan(9_500);

    const refused = await timestamp();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('10');
    const text = await openssl(['ts', '-reply', '-in', refused.reply, '-text']);
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain("the TSA's time source is not available");
    expect([await status('/readyz'), await status('/ping'), await status('/livez')]).toEqual([
      503, 503, 200,
    ]);

    // Back to the right clock: issuance resumes by itself.
    relay.to(right.port);
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
    // chronyc is told to give up by itself (2 s, then 4 s: a quarter of the deadline, then half)
    // before readChrony's 8 s deadline: that deadline is held, so that however slowly chronyc runs
    // on a busy machine, the error is its own.
    const deadline = holdTimers(8_000);
    const error = await readChrony({ socket: client.socket, timeoutMs: 8_000 }).catch(
      (caught: unknown) => caught,
    );
    expect(deadline.count()).toBe(1);
    expect(error).toMatchObject({
      code: 'CHRONYC_FAILED',
      message: 'chronyc: 506 Cannot talk to daemon',
    });
    expect(readdirSync(run)).toEqual(['chronyd.sock']);
  });
});
