import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../../../src/metrics/registry.js';
import { startFakeAwsKmsForSdk, type FakeAwsKms } from '../../../helpers/fake-aws-kms.js';
import { signerFailureCounts, watchUnhandledRejections } from '../../../helpers/fault-tsa.js';
import { openssl, tempDir } from '../../../helpers/openssl.js';
import { waitUntil } from '../../../helpers/poll.js';
import {
  createFlagServer,
  issueAndVerify,
  replyStatus,
  requestToken,
  writeChainFor,
} from '../../../helpers/remote-tsa.js';

/**
 * The circuit breaker end to end, wired from the flags as `serve` wires it: the KMS dies, the
 * breaker opens, /readyz, /ping and the metrics say so and requests fail fast without reaching
 * the KMS; after the cool-down one request probes; when the KMS is back it closes.
 */

const dir = tempDir();
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));

let fake: FakeAwsKms;
let server: Awaited<ReturnType<typeof createFlagServer>>;
let root: string;

beforeAll(async () => {
  fake = await startFakeAwsKmsForSdk();
  const created = fake.createKey('ec-p256', 'breaker');
  const paths = await writeChainFor(created.key.publicKey!, dir);
  root = paths.root;
  server = await createFlagServer({
    timestampSigner: 'kms',
    kmsKeyResource: `awskms:///${created.arn}`,
    certificateChainPath: paths.chain,
    // Generous: every failure below is immediate (500, 503, reset); granted calls, the SDK's
    // first included, need not be fast.
    kmsTimeout: '30s',
    kmsBreakerThreshold: 3,
    kmsBreakerCooldown: '1s',
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  dir.cleanup();
});

const get = (url: string) => server.app.inject({ method: 'GET', url });

async function circuitState(): Promise<string | undefined> {
  const text = await registry.getSingleMetricAsString('timestamp_authority_signer_circuit_state');
  return /state="([a-z-]+)"} 1$/m.exec(text)?.[1];
}

/** Once /readyz answers `status` (the cool-down ends in real time). */
const readyzBecomes = (status: number) =>
  waitUntil(async () => (await get('/readyz')).statusCode === status, 25);

async function expectSystemFailure() {
  const failed = await requestToken(server.app, dir);
  expect(failed.statusCode).toBe(500);
  expect(await replyStatus(failed.body, dir)).toMatch(/Status: Rejected[\s\S]*system failure/i);
}

/** A request made beforehand, so the checks inside a cool-down wait for no openssl run. */
async function preparedQuery(): Promise<Buffer> {
  const data = dir.write('prepared.txt', `artifact ${Math.random()}`);
  const path = dir.path('prepared.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', path]);
  return readFileSync(path);
}

const post = (payload: Buffer) =>
  server.app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'application/timestamp-query' },
    payload,
  });

describe('remote signer circuit breaker (--kms-breaker-threshold 3, --kms-breaker-cooldown 1s)', () => {
  it('opens on a dead KMS, fails fast, reports it, and closes by itself when the KMS is back', async () => {
    expect(await issueAndVerify(server.app, dir, root)).toContain('Verification: OK');
    expect((await get('/readyz')).statusCode).toBe(200);
    expect(await circuitState()).toBe('closed');

    // The KMS dies: three consecutive failures of different kinds open the circuit. (A timeout
    // counts as one too: remote-signer-breaker.test.ts, and kms-faults-cli.test.ts end to end.)
    const before = await signerFailureCounts();
    const query = await preparedQuery();
    fake.faults.calls.length = 0;
    fake.faults.errorStatus = 500;
    await expectSystemFailure();
    fake.faults.errorStatus = undefined;
    fake.faults.resetConnection = true;
    await expectSystemFailure();
    expect((await get('/readyz')).statusCode).toBe(200); // two failures: still closed
    fake.faults.resetConnection = false;
    fake.faults.errorStatus = 503;
    // The third opens the breaker: answered as the refusals after it are (503, retry later).
    expect((await post(query)).statusCode).toBe(503);
    expect(fake.faults.count('Sign')).toBe(3);

    // Open: refused without calling the KMS, and health and metrics say why. Everything is
    // read first, inside the cool-down; openssl looks at the answer afterwards.
    const open = {
      answer: await post(query),
      signCalls: fake.faults.count('Sign'),
      readyz: await get('/readyz'),
      ping: (await get('/ping')).statusCode,
      state: await circuitState(),
    };
    // Refused for now (the breaker closes by itself): 503 with Retry-After, so clients retry;
    // the TimeStampResp still says systemFailure.
    expect(open.answer.statusCode).toBe(503);
    // When to: the cool-down left (at most 1 s), in whole seconds.
    expect(open.answer.headers['retry-after']).toBe('1');
    expect(open.signCalls).toBe(3);
    expect(open.readyz.statusCode).toBe(503);
    expect(open.readyz.body).toBe(
      'remote signer unavailable: circuit breaker open after 3 consecutive failures',
    );
    expect(open.ping).toBe(503);
    expect(open.state).toBe('open');
    expect((await get('/livez')).statusCode).toBe(200);
    expect(await replyStatus(open.answer.rawPayload, dir)).toMatch(
      /circuit breaker open after 3 consecutive failures\nFailure info: .*system failure/,
    );

    // Still dead after the cool-down: the probe fails (its connection reset) and the circuit
    // opens again (503, as the refusals after it).
    fake.faults.errorStatus = undefined;
    fake.faults.resetConnection = true;
    await readyzBecomes(200);
    expect(await circuitState()).toBe('half-open');
    const probe = {
      status: (await post(query)).statusCode,
      signCalls: fake.faults.count('Sign'),
      readyz: (await get('/readyz')).statusCode,
      state: await circuitState(),
    };
    expect(probe).toEqual({ status: 503, signCalls: 4, readyz: 503, state: 'open' });

    // The KMS recovers: after the cool-down the probe succeeds and the circuit closes.
    fake.faults.resetConnection = false;
    await readyzBecomes(200);
    expect(await issueAndVerify(server.app, dir, root)).toContain('Verification: OK');
    expect(fake.faults.count('Sign')).toBe(5);
    expect(await circuitState()).toBe('closed');
    expect((await get('/readyz')).statusCode).toBe(200);
    expect((await get('/ping')).statusCode).toBe(200);

    // Failed calls to the KMS by reason: 500, reset, 503, failed probe (reset).
    const after = await signerFailureCounts();
    const delta = (reason: string) => (after[reason] ?? 0) - (before[reason] ?? 0);
    expect([delta('server_error'), delta('connection'), delta('timeout')]).toEqual([2, 2, 0]);
  });
});
