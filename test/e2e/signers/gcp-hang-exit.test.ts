import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { HELD_DEADLINE_MS, heldTimerEnvironment } from '../../helpers/held-timer.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';
import { startFakeSilentGrpcServer } from '../../helpers/silent-grpc.js';
import { fatalMessages, runCli, SERVE_ON_EPHEMERAL_PORTS } from '../../helpers/spawn-server.js';

/**
 * `timestamp-server serve` on a Cloud KMS that never answers: start-up fails at --kms-timeout and
 * the process exits after its FATAL line, its gRPC call cancelled at the KMS (RST_STREAM CANCEL on
 * the open connection). The call once ran on to gax's own 60 s timeout, and the process with it.
 */
const work = tempDir();
const RING = 'projects/p/locations/global/keyRings/r';
let silent: Awaited<ReturnType<typeof startFakeSilentGrpcServer>>;
let chain: string;

beforeAll(async () => {
  silent = await startFakeSilentGrpcServer();
  ({ chain } = await writeChainFor(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    work,
  ));
});
afterAll(async () => {
  await silent?.close();
  work.cleanup();
});

describe('a Cloud KMS that never answers at start-up', () => {
  it.each([
    [
      'kms',
      () => ['--kms-key-resource', `gcpkms://${RING}/cryptoKeys/k/cryptoKeyVersions/1`],
      `cannot start: gcpkms:${RING}/cryptoKeys/k/cryptoKeyVersions/1: cannot read the public key: remote signer did not answer within ${HELD_DEADLINE_MS} ms`,
    ],
    [
      'tink',
      () => [
        '--tink-keyset-path',
        work.write(
          'keyset.json',
          JSON.stringify({ encryptedKeyset: randomBytes(64).toString('base64') }),
        ),
        '--tink-key-resource',
        `gcp-kms://${RING}/cryptoKeys/kek`,
      ],
      `cannot start: tink: keyset ${work.path('keyset.json')}: the KEK gcp-kms://${RING}/cryptoKeys/kek did not answer within ${HELD_DEADLINE_MS} ms (--kms-timeout)`,
    ],
  ])(
    '--timestamp-signer %s: exits 1 after its FATAL line, the call cancelled',
    async (signer, flags, fatal) => {
      const before = silent.streams.length;
      // --kms-timeout fires once the call is open at the KMS (heldTimerEnvironment), however long
      // a fresh process takes on a busy machine to get there.
      const deadline = heldTimerEnvironment(HELD_DEADLINE_MS);
      const run = runCli(
        [
          ...SERVE_ON_EPHEMERAL_PORTS,
          '--timestamp-signer',
          signer,
          ...flags(),
          '--certificate-chain-path',
          chain,
          '--kms-timeout',
          `${HELD_DEADLINE_MS}ms`,
        ],
        {
          GCP_KMS_ENDPOINT: silent.endpoint,
          METADATA_SERVER_DETECTION: 'none',
          HOME: work.path('home'),
          ...deadline.env,
        },
      );
      let exited = false;
      const exitCode = run.exited.finally(() => (exited = true));
      onTestFinished(() => {
        if (!exited) run.child.kill('SIGKILL');
      });
      await waitUntil(() => silent.streams.length > before || exited);
      expect(exited, run.stderr()).toBe(false);
      expect(deadline.count()).toBe(1);
      deadline.release();
      // No deadline of our own (the project asserts none): that the call is cancelled when it is
      // given up, not at gax's own 60 s, is gcp-call-cancel.test.ts's to prove, by the gRPC status
      // the call ends with. Here: the process ends, with its one FATAL line, the stream reset.
      expect(await exitCode).toBe(1);
      expect(fatalMessages(run.stdout())).toEqual([fatal]);
      const streams = silent.streams.slice(before);
      expect(streams).toHaveLength(1);
      expect(streams[0]).toMatchObject({ rstCode: 8, sessionOpenAtClose: true });
    },
  );
});
