import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAwsKms } from '../../fakes/aws-kms.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { freePort, requireBuild, SERVER_BIN, startProcess } from '../../helpers/process.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';

/**
 * The built server (bin/timestamp-server) on a faulty AWS KMS: every fault is a 500 for the
 * client, the process never exits and keeps answering /ping, the breaker turns /ping red, and
 * issuance comes back by itself when the KMS does.
 */

const dir = tempDir();
let fake: Awaited<ReturnType<typeof startFakeAwsKms>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let root: string;

beforeAll(async () => {
  requireBuild();
  fake = await startFakeAwsKms();
  const created = fake.createKey('ec-p256', 'cli-faults');
  const paths = await writeChainFor(created.key.publicKey!, dir);
  root = paths.root;
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  server = await startProcess(
    SERVER_BIN,
    [
      'serve',
      '--port',
      String(port),
      '--disable-ntp-monitoring',
      '--log-type',
      'prod',
      '--timestamp-signer',
      'kms',
      '--kms-key-resource',
      `awskms:///${created.arn}`,
      '--certificate-chain-path',
      paths.chain,
      '--kms-timeout',
      '1s',
      '--kms-max-retries',
      '1',
      '--kms-breaker-threshold',
      '5',
      '--kms-breaker-cooldown',
      '2s',
    ],
    `${url}/livez`,
    {
      env: {
        AWS_ACCESS_KEY_ID: 'AKIDFAKEFORTESTS',
        AWS_SECRET_ACCESS_KEY: 'fake-secret',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_KMS: fake.origin,
      },
    },
  );
});
afterAll(async () => {
  await server?.stop();
  await fake?.close();
  dir.cleanup();
});

async function timestamp() {
  const data = dir.write('data.txt', `cli artifact ${Math.random()}`);
  const query = dir.path('q.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(query),
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), data };
}

async function pingStatus(): Promise<number> {
  return (await fetch(`${url}/ping`)).status;
}

describe('timestamp-server serve on a faulty KMS', () => {
  it('answers every fault with 500 (503 for the one that opens the breaker), stays up, and recovers by itself', async () => {
    const first = await timestamp();
    expect(first.status).toBe(200);

    const faults: [string, () => void][] = [
      ['throttling', () => (fake.faults.throttleCount = 1_000)],
      ['connection reset', () => (fake.faults.resetConnection = true)],
      ['hang', () => (fake.faults.hang = true)],
      ['HTTP 500', () => (fake.faults.errorStatus = 500)],
      ['latency past the deadline', () => (fake.faults.latencyMs = 3_000)],
      ['HTTP 503', () => (fake.faults.errorStatus = 503)],
    ];
    const pings: { status: number; text: string }[] = [];
    for (const [name, inject] of faults) {
      fake.faults.reset();
      inject();
      const { status, body } = await timestamp();
      // Still serving: /ping answers, read at once (before the cool-down of an open breaker ends).
      const ping = await fetch(`${url}/ping`);
      pings.push({ status: ping.status, text: await ping.text() });
      // The last opens the breaker: answered as the refusals after it are (503, retry later).
      const expected = name === 'HTTP 503' ? 503 : 500;
      expect({ name, status }).toEqual({ name, status: expected });
      const reply = dir.write('reply.tsr', body);
      expect(await openssl(['ts', '-reply', '-in', reply, '-text'])).toMatch(/system failure/);
      expect(server.child.exitCode).toBeNull();
    }

    // Throttling is a definite answer, not a failure; the five service failures after it open
    // the breaker, and /ping turns 503 with the reason.
    expect(pings.map((ping) => ping.status)).toEqual([200, 200, 200, 200, 200, 503]);
    expect(pings.at(-1)?.text).toBe(
      'remote signer unavailable: circuit breaker open after 5 consecutive failures',
    );

    // The KMS recovers: after the cool-down, issuance comes back without a restart.
    fake.faults.reset();
    // No deadline of its own: the test's timeout bounds the wait on a busy machine.
    while ((await pingStatus()) !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
    const recovered = await timestamp();
    expect(recovered.status).toBe(200);
    const reply = dir.write('recovered.tsr', recovered.body);
    expect(
      await openssl(['ts', '-verify', '-in', reply, '-data', recovered.data, '-CAfile', root]),
    ).toContain('Verification: OK');
    expect(await pingStatus()).toBe(200);

    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/unhandled|uncaught/i);
    // Each of the six failures was logged with its cause.
    expect(server.output().match(/"failInfo":"systemFailure".*"err":/g)).toHaveLength(6);
  });
});
