import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { DEFAULT_REMOTE_CALL_POLICY } from '../../../../src/signers/kms/remote-signer.js';
import { startFakeGcpKms } from '../../../fakes/gcp-kms.js';
import { tempDir } from '../../../helpers/openssl.js';
import {
  createFlagServer,
  issueAndVerify,
  asRsaPssKey,
  writeChainFor,
} from '../../../helpers/remote-tsa.js';

let fake: Awaited<ReturnType<typeof startFakeGcpKms>>;
const dir = tempDir();
const RING = 'projects/tsa-test/locations/global/keyRings/tsa';

beforeAll(async () => {
  // Never probe the GCE metadata server from a test.
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  fake = await startFakeGcpKms();
  process.env['GCP_KMS_ENDPOINT'] = fake.endpoint;
});
afterAll(async () => {
  await fake.close();
  dir.cleanup();
});
beforeEach(() => fake.faults.reset());

let keyCounter = 0;
async function serverFor(
  kind: Parameters<typeof fake.addVersion>[2],
  flags: Record<string, unknown> = {},
) {
  const cryptoKey = `${RING}/cryptoKeys/key-${++keyCounter}`;
  const key = fake.addVersion(cryptoKey, 1, kind);
  const paths = await writeChainFor(key.publicKey!, dir);
  const server = await createFlagServer({
    timestampSigner: 'kms',
    kmsKeyResource: `gcpkms://${cryptoKey}/cryptoKeyVersions/1`,
    certificateChainPath: paths.chain,
    ...flags,
  });
  return { server, paths };
}

describe('GCP Cloud KMS signer (real @google-cloud/kms over gRPC against a fake built from the real protos)', () => {
  it('an RSA_SIGN_PSS_* key certified as id-RSASSA-PSS signs PSS with its own hash', async () => {
    const cryptoKey = `${RING}/cryptoKeys/key-${++keyCounter}`;
    const key = fake.addVersion(cryptoKey, 1, 'rsa-4096', {
      algorithm: 'RSA_SIGN_PSS_4096_SHA512',
    });
    const paths = await writeChainFor(asRsaPssKey(key.publicKey!), dir);
    const server = await createFlagServer({
      timestampSigner: 'kms',
      kmsKeyResource: `gcpkms://${cryptoKey}/cryptoKeyVersions/1`,
      certificateChainPath: paths.chain,
    });
    try {
      expect(server.signer.algorithm).toMatchObject({ hash: 'sha512', pss: true });
      expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
    } finally {
      await server.close();
    }
  });

  it.each([
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384'],
    ['rsa-2048', 'sha256'],
    ['rsa-4096', 'sha512'],
  ] as const)('%s key with %s issues tokens that openssl verifies', async (kind, hash) => {
    const { server, paths } = await serverFor(kind, { timestampSignerHash: hash });
    expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
    expect(fake.faults.count('AsymmetricSign')).toBeGreaterThanOrEqual(2); // self-test + token
    await server.close();
  });

  it('without a version, signs with the newest ENABLED version (by number, not by name)', async () => {
    const cryptoKey = `${RING}/cryptoKeys/rotated`;
    fake.addVersion(cryptoKey, 9, 'ec-p256');
    const newest = fake.addVersion(cryptoKey, 10, 'ec-p256');
    fake.addVersion(cryptoKey, 11, 'ec-p256', { state: 'DISABLED' });
    const signer = await createKmsSigner(`gcpkms://${cryptoKey}`, 'sha256');
    expect(signer.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      newest.publicKey!.export({ type: 'spki', format: 'der' }),
    );
    await signer[Symbol.asyncDispose]();
  });

  it('refuses to start on a hash mismatch, a PSS key with a plain RSA leaf, or a key that cannot sign', async () => {
    const ec384 = `${RING}/cryptoKeys/p384`;
    fake.addVersion(ec384, 1, 'ec-p384');
    await expect(
      createKmsSigner(`gcpkms://${ec384}/cryptoKeyVersions/1`, 'sha256'),
    ).rejects.toThrow(/signs with SHA384 but --timestamp-signer-hash is sha256/);
    const pss = `${RING}/cryptoKeys/pss`;
    const pssKey = fake.addVersion(pss, 1, 'rsa-2048', { algorithm: 'RSA_SIGN_PSS_2048_SHA256' });
    await expect(
      createKmsSigner(
        `gcpkms://${pss}/versions/1`,
        'sha256',
        DEFAULT_REMOTE_CALL_POLICY,
        {},
        pssKey.publicKey!,
      ),
    ).rejects.toThrow(
      /signs RSASSA-PSS but the leaf certificate's key is rsaEncryption: certify it as id-RSASSA-PSS/,
    );
    const symmetric = `${RING}/cryptoKeys/aes`;
    fake.addVersion(symmetric, 1, 'aes-256');
    await expect(
      createKmsSigner(`gcpkms://${symmetric}/cryptoKeyVersions/1`, 'sha256'),
    ).rejects.toThrow(
      /GOOGLE_SYMMETRIC_ENCRYPTION is not a supported asymmetric signing algorithm/,
    );
  });
});
