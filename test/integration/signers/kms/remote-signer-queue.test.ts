import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAwsKmsForSdk, type FakeAwsKms } from '../../../helpers/fake-aws-kms.js';
import { signerFailureCounts, watchUnhandledRejections } from '../../../helpers/fault-tsa.js';
import { tempDir } from '../../../helpers/openssl.js';
import { waitUntil } from '../../../helpers/poll.js';
import { createFlagServer, replyStatus, writeChainFor } from '../../../helpers/remote-tsa.js';
import { grantableRequest } from '../../../helpers/seeds.js';
import type { RemoteSigner } from '../../../../src/signers/kms/remote-signer.js';
import { MAX_WAITING_SIGNATURES } from '../../../../src/signers/slot-queue.js';

/**
 * The remote signer's wait queue, wired from the flags as `serve` wires it: a KMS that is slow but
 * answers keeps the breaker closed, so only the queue's bound (MAX_WAITING_SIGNATURES) keeps
 * requests from piling up for --kms-timeout. Beyond it a request
 * is refused at once: 503 with Retry-After, `reason="queue_full"`, /readyz still green.
 */

const dir = tempDir();
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));

let fake: FakeAwsKms;
let server: Awaited<ReturnType<typeof createFlagServer>>;
/** Sign calls wait for this while `holding` (the fake's other operations never do). */
let holding = false;
/** Sign calls that reached the KMS while it held them. */
let heldSigns = 0;
let releaseSigns = (): void => undefined;
let signsHeld = Promise.resolve();

beforeAll(async () => {
  fake = await startFakeAwsKmsForSdk();
  const decide = fake.faults.decide.bind(fake.faults);
  fake.faults.decide = async (operation) => {
    if (operation === 'Sign' && holding) {
      heldSigns++;
      await signsHeld;
    }
    return decide(operation);
  };
  const created = fake.createKey('ec-p256', 'queue');
  const paths = await writeChainFor(created.key.publicKey!, dir);
  server = await createFlagServer({
    timestampSigner: 'kms',
    kmsKeyResource: `awskms:///${created.arn}`,
    certificateChainPath: paths.chain,
    kmsMaxConcurrency: 1,
    // Longer than the test: nothing here ends by a deadline, only by the test's release.
    kmsTimeout: '5m',
  });
});
afterAll(async () => {
  releaseSigns();
  await server?.close();
  await fake?.close();
  dir.cleanup();
});

const post = () =>
  server.app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'application/timestamp-query' },
    payload: grantableRequest(),
  });

describe('remote signer wait queue (--kms-max-concurrency 1)', () => {
  it('refuses beyond MAX_WAITING_SIGNATURES waiters at once with 503 and Retry-After, counted as queue_full, and serves again once the KMS answers', async () => {
    // A first token: the SDK's first call (its connection) is behind us.
    expect((await post()).statusCode).toBe(200);
    const signer = server.signer as RemoteSigner;
    const before = await signerFailureCounts();
    signsHeld = new Promise((resolve) => (releaseSigns = resolve));
    holding = true;

    // One in flight (held by the KMS), the queue's bound waiting for its slot.
    const admitted = Array.from({ length: 1 + MAX_WAITING_SIGNATURES }, () => post());
    await waitUntil(() => heldSigns === 1 && signer.waiting === MAX_WAITING_SIGNATURES, 10);

    let answered = false;
    const refusing = post().finally(() => (answered = true));
    // Answered at once, or (the failure this guards against) queued as one more waiter.
    await waitUntil(() => answered || signer.waiting > MAX_WAITING_SIGNATURES, 10);
    expect(signer.waiting).toBe(MAX_WAITING_SIGNATURES);
    const refused = await refusing;
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(await replyStatus(refused.rawPayload, dir)).toMatch(
      /remote signer busy: too many signatures waiting for a free slot\nFailure info: .*system failure/,
    );
    expect(signer.waiting).toBe(MAX_WAITING_SIGNATURES);
    expect(heldSigns).toBe(1);
    const after = await signerFailureCounts();
    expect(after['queue_full']).toBe((before['queue_full'] ?? 0) + 1);
    // Busy is not down: the breaker stays closed and the server ready.
    expect(signer.breaker.state).toBe('closed');
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

    holding = false;
    releaseSigns();
    expect((await Promise.all(admitted)).map((response) => response.statusCode)).toEqual(
      Array(1 + MAX_WAITING_SIGNATURES).fill(200),
    );
    expect((await post()).statusCode).toBe(200);
    expect(signer.waiting).toBe(0);
  });
});
