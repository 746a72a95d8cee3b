import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { signerConfigFrom } from '../../../src/config/signer-config.js';
import { RemoteSignerTimeout } from '../../../src/signers/kms/remote-signer.js';
import { createSigner } from '../../../src/signers/create-signer.js';
import { openKek } from '../../../src/signers/tink/open-kek.js';
import { createTinkSigner } from '../../../src/signers/tink/tink-signer.js';
import { startKekServices, type KekServices } from '../../fakes/kek-services.js';
import { HELD_DEADLINE_MS, holdTimers } from '../../helpers/held-timer.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';

/**
 * Unwrapping a Tink keyset at start is bounded by --kms-timeout: a KEK service that never answers
 * fails start-up with an error naming the KEK and the deadline, instead of hanging it.
 */
let services: KekServices;
let aws: KekServices['aws'];
let gcp: KekServices['gcp'];
let vault: KekServices['vault'];
const VAULT_TOKEN = 'hvs.kek-deadline-secret';
const work = tempDir();
/** Any EncryptedKeyset: the KEK never answers, so its ciphertext is never opened. */
const keysetPath = work.write(
  'keyset.json',
  JSON.stringify({ encryptedKeyset: randomBytes(64).toString('base64') }),
);

beforeAll(async () => {
  services = await startKekServices(VAULT_TOKEN);
  ({ aws, gcp, vault } = services);
  for (const fake of [aws, gcp, vault]) fake.faults.hang = true;
  // Loaded before the clock starts: loading an SDK is not what the deadline is about.
  await Promise.all([import('@google-cloud/kms'), import('@aws-sdk/client-kms')]);
});
afterAll(async () => {
  await services?.close();
  work.cleanup();
});

describe('Tink signer: the KEK call at start has a deadline', () => {
  it.each<[string, () => string, () => number]>([
    [
      'aws-kms',
      () => `aws-kms://${aws.createKey('aes-256').arn}`,
      () => aws.faults.count('Decrypt'),
    ],
    [
      'gcp-kms',
      () => {
        const cryptoKey = 'projects/p/locations/global/keyRings/r/cryptoKeys/hung';
        gcp.addVersion(cryptoKey, 1, 'aes-256');
        return `gcp-kms://${cryptoKey}`;
      },
      () => gcp.faults.count('Decrypt'),
    ],
    [
      'hcvault',
      () => {
        vault.createKey('hung-kek', 'aes-256');
        return 'hcvault://vault.example:8200/transit/keys/hung-kek';
      },
      () => vault.faults.count('decrypt'),
    ],
  ])(
    '%s: a KEK that never answers fails start-up with the KEK and --kms-timeout named',
    async (_, kekUriOf, decryptCalls) => {
      const kekUri = kekUriOf();
      const before = decryptCalls();
      // The deadline fires once the KEK's decrypt has reached the service, however slow the
      // machine is in getting there (holdTimers); what follows is the product's.
      const deadline = holdTimers(HELD_DEADLINE_MS);
      let settled = false;
      const failure = createTinkSigner({
        keysetPath,
        kekUri,
        vaultToken: VAULT_TOKEN,
        hash: 'sha256',
        openKek,
        timeoutMs: HELD_DEADLINE_MS,
      })
        .then(
          () => undefined,
          (error: unknown) => error,
        )
        .finally(() => (settled = true));
      await waitUntil(() => decryptCalls() > before || settled);
      expect(deadline.count()).toBe(1);
      deadline.release();
      expect(await failure).toBeInstanceOf(RemoteSignerTimeout);
      expect(await failure).toMatchObject({
        code: 'TIMEOUT',
        message: `tink: keyset ${keysetPath}: the KEK ${kekUri} did not answer within ${HELD_DEADLINE_MS} ms (--kms-timeout)`,
      });
      // It was the KEK's decrypt that hung, called once (no SDK retries), and no secret is shown.
      expect(decryptCalls() - before).toBe(1);
      expect(String(((await failure) as Error).message)).not.toContain(VAULT_TOKEN);
    },
  );

  it('the deadline is --kms-timeout, from the flags to the signer', async () => {
    const config = signerConfigFrom(
      resolveServeConfig({
        timestampSigner: 'tink',
        tinkKeysetPath: keysetPath,
        tinkKeyResource: `aws-kms://${aws.createKey('aes-256').arn}`,
        certificateChainPath: work.write('chain.pem', ''),
        kmsTimeout: '250ms',
      }),
    );
    expect(config).toMatchObject({ kind: 'tink', timeoutMs: 250 });
    await expect(createSigner(config)).rejects.toThrow(/did not answer within 250 ms/);
  });
});
