import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';
import { startFakeSilentGrpcServer } from '../../helpers/silent-grpc.js';
import { fatalMessages, runCli, SERVE_ON_EPHEMERAL_PORTS } from '../../helpers/spawn-server.js';
import { waitUntil } from '../../helpers/poll.js';

/**
 * `timestamp-server serve` on a Cloud KMS that never answers: start-up fails at --kms-timeout and
 * the process exits after its FATAL line, its gRPC call cancelled at the KMS (RST_STREAM CANCEL on
 * the open connection). The call once ran on to gax's own 60 s timeout, and the process with it.
 */
const work = tempDir();
const RING = 'projects/p/locations/global/keyRings/r';
/** Far less than gax's 60 s, far more than closing a process takes on a loaded machine. */
const EXIT_AFTER_FATAL_MS = 30_000;
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
      `cannot start: gcpkms:${RING}/cryptoKeys/k/cryptoKeyVersions/1: cannot read the public key: remote signer did not answer within 1000 ms`,
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
      `cannot start: tink: keyset ${work.path('keyset.json')}: the KEK gcp-kms://${RING}/cryptoKeys/kek did not answer within 1000 ms (--kms-timeout)`,
    ],
  ])(
    '--timestamp-signer %s: exits 1 after its FATAL line, the call cancelled',
    async (signer, flags, fatal) => {
      const before = silent.streams.length;
      const run = runCli(
        [
          ...SERVE_ON_EPHEMERAL_PORTS,
          '--timestamp-signer',
          signer,
          ...flags(),
          '--certificate-chain-path',
          chain,
          '--kms-timeout',
          '1s',
        ],
        {
          GCP_KMS_ENDPOINT: silent.endpoint,
          METADATA_SERVER_DETECTION: 'none',
          HOME: work.path('home'),
        },
      );
      let exitCode: number | null | undefined;
      void run.exited.then((code) => (exitCode = code));
      // However slow the start, once the FATAL line is out the process must not wait for gax.
      await waitUntil(() => exitCode !== undefined || fatalMessages(run.stdout()).length > 0);
      const exited = await Promise.race([
        run.exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, EXIT_AFTER_FATAL_MS, false).unref()),
      ]);
      if (!exited) run.child.kill('SIGKILL');
      expect(exited).toBe(true);
      expect(exitCode).toBe(1);
      expect(fatalMessages(run.stdout())).toEqual([fatal]);
      const streams = silent.streams.slice(before);
      expect(streams).toHaveLength(1);
      expect(streams[0]).toMatchObject({ rstCode: 8, sessionOpenAtClose: true });
    },
  );
});
