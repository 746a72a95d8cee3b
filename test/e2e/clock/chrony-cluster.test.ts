import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freeTcpPort,
  freeUdpPort,
  ntsCertificate,
  startChronyClient,
  startNtpServer,
} from '../../helpers/chrony.js';
import { auditPathForSlot } from '../../../src/server/audit-log-file.js';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment } from '../../helpers/process.js';
import { until } from '../../helpers/sntp-responder.js';
import { spawnServer } from '../../helpers/spawn-server.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('--time-source chrony with --workers 2 (the primary reads chronyd, workers gate on it)', () => {
  it('tokens issued by the workers record the NTS-authenticated source and declare the measured accuracy', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const { cert, key } = await ntsCertificate(dir.dir);
    const port = await freeUdpPort();
    const ntsPort = await freeTcpPort();
    mkdirSync(dir.path('server-state'));
    const server = await startNtpServer({
      port,
      nts: { ntsPort, cert, key },
      stateDir: dir.path('server-state'),
    });
    cleanups.push(() => server.stop());
    const client = await startChronyClient(
      [`server 127.0.0.1 port ${port} nts ntsport ${ntsPort} iburst minpoll -6 maxpoll -6`],
      [`ntstrustedcerts ${cert}`],
    );
    cleanups.push(() => client.stop());
    const ntp = dir.write('ntp.yaml', 'request_timeout: 1\nmax_time_delta: 1\nperiod: 1\n');
    const audit = dir.path('audit.jsonl');
    const tsa = await spawnServer(
      [
        '--workers',
        '2',
        '--ntp-monitoring',
        ntp,
        '--time-source',
        'chrony',
        '--chrony-socket',
        client.socket,
        '--require-nts',
        '--accuracy',
        'auto',
        '--audit-log',
        audit,
      ],
      // The test environment turns monitoring off (vitest.config.ts).
      { DISABLE_NTP_MONITORING: 'false' },
    );
    cleanups.push(() => tsa.stop());
    await until(async () => (await fetch(`${tsa.url}/readyz`)).status === 200, 'ready', 50);

    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const response = await fetch(`${tsa.url}/api/v1/timestamp`, {
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query', connection: 'close' },
          body: helloTimeStampReq(),
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // One audit file per worker slot (audit.worker-1.jsonl, audit.worker-2.jsonl).
    const files = [1, 2].map((slot) => auditPathForSlot(audit, slot)).filter(existsSync);
    const records = files
      .flatMap((file) => readFileSync(file, 'utf8').split('\n'))
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { time: string; timeSource?: Record<string, unknown> });
    expect(records).toHaveLength(6);
    // docs/operations.md merges them with `sort -m`: each line starts with its `time`.
    const merged = execFileSync('sort', ['-m', ...files], {
      env: childEnvironment({ LC_ALL: 'C' }),
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    for (const line of merged) expect(line).toMatch(/^\{"time":"\d{4}-\d\d-\d\dT[\d:.]{12}Z"/);
    expect(merged.map((line) => (JSON.parse(line) as { time: string }).time)).toEqual(
      records.map((record) => record.time).sort(),
    );
    for (const record of records) {
      expect(record.timeSource).toMatchObject({
        source: 'chrony',
        state: 'synced',
        reference: '127.0.0.1',
        authenticated: true,
      });
      // The token declares at least the bound chronyd measured, rounded up to the millisecond,
      // + 1 ms for genTime's own truncation to the millisecond; more once the bound has aged since
      // chronyd's measurement (the clock's possible drift meanwhile). On loopback the bound is
      // usually far below 1 ms, but a busy machine can delay a sample: it is chronyd's, not a
      // constant.
      const boundMs = record.timeSource?.['boundMs'];
      const accuracyMs = record.timeSource?.['accuracyMs'];
      expect(typeof boundMs === 'number' && boundMs > 0).toBe(true);
      expect(Number.isInteger(accuracyMs)).toBe(true);
      expect(accuracyMs as number).toBeGreaterThanOrEqual(Math.ceil(boundMs as number) + 1);
    }
  });
});
