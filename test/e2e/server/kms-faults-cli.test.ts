import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAwsKms } from '../../fakes/aws-kms.js';
import { awsKmsEnvironment, type FakeAwsKms } from '../../helpers/fake-aws-kms.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { requireBuild, SERVER_BIN, startProcess } from '../../helpers/process.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';

/**
 * The built server (bin/timestamp-server) on a faulty AWS KMS: every fault is a 500 for the
 * client, the process never exits and keeps answering /ping, the breaker turns /ping red, and
 * issuance comes back by itself when the KMS does. The faults that must time out run on a
 * server of their own with a short --kms-timeout; the others on one whose granted calls need not
 * be fast (as test/integration/signers/kms/kms-faults.test.ts splits them).
 */

/** Generous: the granted calls (the SDK's first, lazy loading included) need not be fast. */
const KMS_TIMEOUT = '30s';
/** Short, to provoke the timeout: only on the server where no call is meant to succeed. */
const SHORT_KMS_TIMEOUT = '1s';

const dir = tempDir();
let fake: FakeAwsKms;
let chain: string;
let root: string;
let keyArn: string;
type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let shortServer: Server;

async function startServer(kmsTimeout: string, breakerThreshold: number) {
  const running = await startProcess(
    SERVER_BIN,
    [
      'serve',
      '--port',
      '0',
      '--disable-ntp-monitoring',
      '--log-type',
      'prod',
      '--timestamp-signer',
      'kms',
      '--kms-key-resource',
      `awskms:///${keyArn}`,
      '--certificate-chain-path',
      chain,
      '--kms-timeout',
      kmsTimeout,
      '--kms-max-retries',
      '1',
      '--kms-breaker-threshold',
      String(breakerThreshold),
      '--kms-breaker-cooldown',
      '2s',
    ],
    { env: awsKmsEnvironment(fake.origin) },
  );
  return { url: running.url, running };
}

beforeAll(async () => {
  requireBuild();
  fake = await startFakeAwsKms();
  const created = fake.createKey('ec-p256', 'cli-faults');
  keyArn = created.arn;
  ({ chain, root } = await writeChainFor(created.key.publicKey!, dir));
  // Three service failures open the breaker: those of the faults below that answer.
  server = await startServer(KMS_TIMEOUT, 3);
  // The start-up reads the key under the short deadline too: started again while that times
  // out on a slow machine. Its breaker stays out of the way.
  for (;;) {
    try {
      shortServer = await startServer(SHORT_KMS_TIMEOUT, 1_000);
      break;
    } catch (error) {
      if (!/cannot read the public key: remote signer did not answer within/.test(String(error)))
        throw error;
    }
  }
});
afterAll(async () => {
  await server?.running.stop();
  await shortServer?.running.stop();
  await fake?.close();
  dir.cleanup();
});

async function timestamp(url: string) {
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

async function pingStatus(url: string): Promise<number> {
  return (await fetch(`${url}/ping`)).status;
}

/** The server's log lines of the requests answered systemFailure, each with its cause. */
const failureLogs = (on: Server) =>
  on.running.output().match(/^.*"failInfo":"systemFailure".*"err":.*$/gm) ?? [];

/** Each fault in turn on `on`: a system failure, and /ping as read right after it. */
async function underFaults(on: Server, faults: [string, () => void][], lastStatus = 500) {
  const pings: { status: number; text: string }[] = [];
  for (const [index, [name, inject]] of faults.entries()) {
    fake.faults.reset();
    inject();
    const { status, body } = await timestamp(on.url);
    // Still serving: /ping answers, read at once (before the cool-down of an open breaker ends).
    const ping = await fetch(`${on.url}/ping`);
    pings.push({ status: ping.status, text: await ping.text() });
    const expected = index === faults.length - 1 ? lastStatus : 500;
    expect({ name, status }).toEqual({ name, status: expected });
    const reply = dir.write('reply.tsr', body);
    expect(await openssl(['ts', '-reply', '-in', reply, '-text'])).toMatch(/system failure/);
    expect(on.running.child.exitCode).toBeNull();
  }
  fake.faults.reset();
  return pings;
}

describe('timestamp-server serve on a faulty KMS', () => {
  it('answers every fault with 500 (503 for the one that opens the breaker), stays up, and recovers by itself', async () => {
    const first = await timestamp(server.url);
    expect(first.status).toBe(200);

    // The last opens the breaker: answered as the refusals after it are (503, retry later).
    const pings = await underFaults(
      server,
      [
        ['throttling', () => (fake.faults.throttleCount = 1_000)],
        ['connection reset', () => (fake.faults.resetConnection = true)],
        ['HTTP 500', () => (fake.faults.errorStatus = 500)],
        ['HTTP 503', () => (fake.faults.errorStatus = 503)],
      ],
      503,
    );
    // Throttling is a definite answer, not a failure; the three service failures after it open
    // the breaker, and /ping turns 503 with the reason.
    expect(pings.map((ping) => ping.status)).toEqual([200, 200, 200, 503]);
    expect(pings.at(-1)?.text).toBe(
      'remote signer unavailable: circuit breaker open after 3 consecutive failures',
    );

    // The KMS recovers: after the cool-down, issuance comes back without a restart.
    await waitUntil(async () => (await pingStatus(server.url)) === 200, 25);
    const recovered = await timestamp(server.url);
    expect(recovered.status).toBe(200);
    const reply = dir.write('recovered.tsr', recovered.body);
    expect(
      await openssl(['ts', '-verify', '-in', reply, '-data', recovered.data, '-CAfile', root]),
    ).toContain('Verification: OK');
    expect(await pingStatus(server.url)).toBe(200);

    expect(server.running.child.exitCode).toBeNull();
    // Each of the four failures is logged with its cause (the log may trail the answer).
    await waitUntil(() => failureLogs(server).length === 4);
    expect(server.running.output()).not.toMatch(/unhandled|uncaught/i);
  });

  it(`answers a hanging KMS and one slower than --kms-timeout ${SHORT_KMS_TIMEOUT} with 500, and stays up`, async () => {
    const pings = await underFaults(shortServer, [
      ['hang', () => (fake.faults.hang = true)],
      ['latency past the deadline', () => (fake.faults.latencyMs = 3_000)],
    ]);
    expect(pings.map((ping) => ping.status)).toEqual([200, 200]);

    expect(shortServer.running.child.exitCode).toBeNull();
    await waitUntil(() => failureLogs(shortServer).length === 2);
    // Both were the deadline's doing.
    for (const line of failureLogs(shortServer))
      expect(line).toContain('"message":"remote signer did not answer within 1000 ms"');
    expect(shortServer.running.output()).not.toMatch(/unhandled|uncaught/i);
  });
});
