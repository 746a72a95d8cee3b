/**
 * A profile whose KMS dies (its circuit breaker opens) leaves the other profile issuing: /readyz
 * and /ping stay 200 and name the profile that cannot issue; the default profile's tokens verify.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/config/config-file.js';
import { resolveLayers } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { startFakeAwsKmsForSdk, type FakeAwsKms } from '../../helpers/fake-aws-kms.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';

const dir = tempDir();
let fake: FakeAwsKms;
let server: RunningServer;
let kmsRoot: string;
/** The server's log, one parsed line each. */
const logged: { level: number; msg: string; statusCode?: number; err?: unknown }[] = [];

beforeAll(async () => {
  fake = await startFakeAwsKmsForSdk();
  const created = fake.createKey('ec-p256', 'profile');
  const paths = await writeChainFor(created.key.publicKey!, dir);
  kmsRoot = paths.root;
  const config = dir.write(
    'timestamp-server.yaml',
    [
      'port: 0',
      'metrics-port: 0',
      'disable-ntp-monitoring: true',
      'profiles:',
      '  - name: kms',
      '    policy-oids: [1.2.3.4.200]',
      '    timestamp-signer: kms',
      `    kms-key-resource: awskms:///${created.arn}`,
      `    certificate-chain-path: ${paths.chain}`,
      '    kms-breaker-threshold: 1',
      // Open until the test ends: no race with a probe.
      '    kms-breaker-cooldown: 1h',
      '',
    ].join('\n'),
  );
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logged.push(JSON.parse(line)) },
  );
  server = await startServer(resolveLayers([readConfigFile(config)]).config, logger);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  dir.cleanup();
});

let counter = 0;
async function issue(path: string) {
  const data = dir.write(`data-${++counter}.txt`, `artifact ${counter}`);
  const query = dir.path(`q-${counter}.tsq`);
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const { readFileSync } = await import('node:fs');
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(query),
  });
  const reply = dir.write(`r-${counter}.tsr`, Buffer.from(await response.arrayBuffer()));
  return { status: response.status, retryAfter: response.headers.get('retry-after'), reply, data };
}

const get = async (path: string) => {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: await response.text() };
};

describe('a profile whose KMS is down', () => {
  it('does not stop the other profile', async () => {
    const before = await issue('/api/v1/timestamp/kms');
    expect(before.status).toBe(200);
    expect(
      await openssl([
        'ts',
        '-verify',
        '-in',
        before.reply,
        '-data',
        before.data,
        '-CAfile',
        kmsRoot,
      ]),
    ).toMatch(/Verification: OK/);

    fake.faults.errorStatus = 500;
    // The failed signature opens the breaker (threshold 1), so it is answered as the refusals
    // after it are: 503, retry later.
    expect((await issue('/api/v1/timestamp/kms')).status).toBe(503);
    const signCalls = fake.faults.count('Sign');
    // Open: refused without calling the KMS, for now (503 with Retry-After: retry later).
    // Retry after the breaker's cool-down left: an hour less the time since it opened.
    const refused = await issue('/api/v1/timestamp/kms');
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(3_000);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(3_600);
    expect(fake.faults.count('Sign')).toBe(signCalls);
    // The request that met the failure is an error, with its cause; the refusals after it are
    // warnings, without one: an outage must not flood the log with errors.
    const lines503 = logged.filter((line) => line.statusCode === 503);
    expect(lines503).toHaveLength(2);
    expect(lines503[0]).toMatchObject({ level: 50, msg: 'request failed', err: expect.anything() });
    expect(lines503[1]).toMatchObject({ level: 40, msg: 'request refused: service unavailable' });
    expect(lines503[1]).not.toHaveProperty('err');
    // The breaker's own line says when issuance stopped.
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: expect.stringMatching(
          /^profile kms: signer awskms:\S+ unavailable: circuit breaker opened after 1 consecutive failures; issuance refused/,
        ),
      }),
    );

    const readyz = await get('/readyz');
    expect(readyz.status).toBe(200);
    expect(readyz.body).toMatch(
      /^ok\ndefault: ok\nkms: remote signer unavailable: circuit breaker open/,
    );
    expect((await get('/ping')).status).toBe(200);

    const other = await issue('/api/v1/timestamp');
    expect(other.status).toBe(200);
    const chain = dir.write('default-chain.pem', (await get('/api/v1/timestamp/certchain')).body);
    expect(
      await openssl(['ts', '-verify', '-in', other.reply, '-data', other.data, '-CAfile', chain]),
    ).toMatch(/Verification: OK/);
  });
});
