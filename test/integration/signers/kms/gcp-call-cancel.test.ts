import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureAlgorithmFor } from '../../../../src/crypto/key-algorithms.js';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { createGcpKmsApi } from '../../../../src/signers/kms/gcp.js';
import {
  DEFAULT_REMOTE_CALL_POLICY,
  RemoteSignerTimeout,
} from '../../../../src/signers/kms/remote-signer.js';
import { openKek } from '../../../../src/signers/tink/open-kek.js';
import { createTinkSigner } from '../../../../src/signers/tink/tink-signer.js';
import { HELD_DEADLINE_MS, holdTimers } from '../../../helpers/held-timer.js';
import { tempDir } from '../../../helpers/openssl.js';
import { waitUntil } from '../../../helpers/poll.js';
import { startFakeSilentGrpcServer, type SilentStream } from '../../../helpers/silent-grpc.js';

/**
 * A Cloud KMS call given up (the deadline, --kms-timeout) really ends: the real @google-cloud/kms
 * client, against a server that never answers, resets the call's HTTP/2 stream (RST_STREAM CANCEL
 * on a connection still open). The client's public methods return a plain Promise, so a cancel()
 * on it did nothing: the call ran on to gax's 60 s timeout, holding a KMS call past the deadline
 * that freed its slot, and a failed start-up's process alive for a minute.
 */
const RING = 'projects/p/locations/global/keyRings/r';
const saved = {
  endpoint: process.env['GCP_KMS_ENDPOINT'],
  metadata: process.env['METADATA_SERVER_DETECTION'],
};
let silent: Awaited<ReturnType<typeof startFakeSilentGrpcServer>>;
const work = tempDir();

beforeAll(async () => {
  silent = await startFakeSilentGrpcServer();
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  process.env['GCP_KMS_ENDPOINT'] = silent.endpoint;
});
afterAll(async () => {
  await silent?.close();
  for (const [name, value] of [
    ['GCP_KMS_ENDPOINT', saved.endpoint],
    ['METADATA_SERVER_DETECTION', saved.metadata],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  work.cleanup();
});

/** A call's outcome: its error (undefined if it succeeded), and whether it has settled yet. */
function settle(call: Promise<unknown>) {
  const outcome = {
    settled: false,
    error: call.then(
      () => undefined,
      (error: unknown) => error,
    ),
  };
  void outcome.error.then(() => (outcome.settled = true));
  return outcome;
}

/**
 * The next stream the server is sent for `method`, once it is open; fails if `call` settles before
 * (it would never be sent).
 */
async function nextStream(
  method: string,
  before: number,
  call?: { settled: boolean; error: Promise<unknown> },
): Promise<SilentStream> {
  const path = `/google.cloud.kms.v1.KeyManagementService/${method}`;
  let found: SilentStream | undefined;
  await waitUntil(
    () =>
      (found = silent.streams.slice(before).find((s) => s.path === path)) !== undefined ||
      call?.settled === true,
  );
  if (!found) throw new Error(`no ${method} call: it ended with ${String(await call?.error)}`);
  return found;
}

/** Waits until `stream` closes; expects a reset by the client (CANCEL) on a live connection. */
async function expectCancelled(stream: SilentStream) {
  await waitUntil(() => stream.rstCode !== undefined);
  expect(stream).toMatchObject({ rstCode: 8, sessionOpenAtClose: true });
}

const ALGORITHM = signatureAlgorithmFor(
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
  'sha256',
);

describe('a Cloud KMS call given up ends at the service', () => {
  it('AsymmetricSign: an abort cancels the gRPC call', async () => {
    const api = await createGcpKmsApi(`gcpkms://${RING}/cryptoKeys/k/cryptoKeyVersions/1`);
    try {
      const before = silent.streams.length;
      const controller = new AbortController();
      const signing = api.signDigest(randomBytes(32), ALGORITHM, controller.signal);
      const stream = await nextStream('AsymmetricSign', before);
      expect(stream.rstCode).toBeUndefined();
      controller.abort(new Error('deadline'));
      await expect(signing).rejects.toMatchObject({ code: 1 }); // CANCELLED
      await expectCancelled(stream);
    } finally {
      await api.close?.();
    }
  });

  it('an abort before gax has made the gRPC call (it waits for its stub) still ends it', async () => {
    const api = await createGcpKmsApi(`gcpkms://${RING}/cryptoKeys/k/cryptoKeyVersions/1`);
    try {
      const controller = new AbortController();
      const signing = api.signDigest(randomBytes(32), ALGORITHM, controller.signal);
      controller.abort(new Error('deadline'));
      await expect(signing).rejects.toMatchObject({ code: 1 });
    } finally {
      await api.close?.();
    }
  });

  it.each([
    ['a key version', `gcpkms://${RING}/cryptoKeys/k/cryptoKeyVersions/1`, 'GetCryptoKeyVersion'],
    ['a key (its versions listed)', `gcpkms://${RING}/cryptoKeys/k`, 'ListCryptoKeyVersions'],
  ])('start-up on %s: the deadline fails it and cancels the call', async (_, uri, method) => {
    const before = silent.streams.length;
    // The deadline fires once the call is open at the service (holdTimers), however long the
    // machine takes to get there: a deadline that fired first would cancel nothing there.
    const deadline = holdTimers(HELD_DEADLINE_MS);
    const failure = settle(
      createKmsSigner(uri, 'auto', { ...DEFAULT_REMOTE_CALL_POLICY, timeoutMs: HELD_DEADLINE_MS }),
    );
    const stream = await nextStream(method, before, failure);
    expect(stream.rstCode).toBeUndefined();
    expect(deadline.count()).toBe(1);
    deadline.release();
    expect(await failure.error).toMatchObject({
      message: expect.stringContaining(
        `cannot read the public key: remote signer did not answer within ${HELD_DEADLINE_MS} ms`,
      ),
    });
    await expectCancelled(stream);
  });

  it('the Tink gcp-kms:// KEK: an abort cancels Decrypt, and the start-up deadline does', async () => {
    const kek = await openKek(`gcp-kms://${RING}/cryptoKeys/kek`, {});
    try {
      const before = silent.streams.length;
      const controller = new AbortController();
      const decrypting = kek.decrypt(randomBytes(64), new Uint8Array(0), controller.signal);
      const stream = await nextStream('Decrypt', before);
      controller.abort(new Error('deadline'));
      await expect(decrypting).rejects.toThrow(/Cloud KMS call failed: 1 CANCELLED/);
      await expectCancelled(stream);
    } finally {
      await kek.close?.();
    }

    const before = silent.streams.length;
    const keysetPath = work.write(
      'keyset.json',
      JSON.stringify({ encryptedKeyset: randomBytes(64).toString('base64') }),
    );
    const deadline = holdTimers(HELD_DEADLINE_MS);
    const failure = settle(
      createTinkSigner({
        keysetPath,
        kekUri: `gcp-kms://${RING}/cryptoKeys/kek`,
        vaultToken: '',
        hash: 'sha256',
        openKek,
        timeoutMs: HELD_DEADLINE_MS,
      }),
    );
    const stream = await nextStream('Decrypt', before, failure);
    expect(deadline.count()).toBe(1);
    deadline.release();
    expect(await failure.error).toBeInstanceOf(RemoteSignerTimeout);
    await expectCancelled(stream);
  });
});
