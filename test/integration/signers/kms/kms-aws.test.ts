import { DescribeKeyCommand, KMSClient, UpdateAliasCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAwsKmsForSdk, type FakeAwsKms } from '../../../helpers/fake-aws-kms.js';
import { tempDir } from '../../../helpers/openssl.js';
import {
  createFlagServer,
  issueAndVerify,
  asRsaPssKey,
  writeChainFor,
} from '../../../helpers/remote-tsa.js';

let fake: FakeAwsKms;
const dir = tempDir();

beforeAll(async () => {
  // Through the AWS SDK's own endpoint override (AWS_ENDPOINT_URL_KMS).
  fake = await startFakeAwsKmsForSdk();
});
afterAll(async () => {
  await fake.close();
  dir.cleanup();
});
beforeEach(() => fake.faults.reset());

async function serverFor(
  kind: Parameters<typeof fake.createKey>[0],
  flags: Record<string, unknown> = {},
) {
  const created = fake.createKey(kind, `tsa-${kind}-${Math.random().toString(36).slice(2)}`);
  const paths = await writeChainFor(created.key.publicKey!, dir);
  const server = await createFlagServer({
    timestampSigner: 'kms',
    kmsKeyResource: `awskms:///${created.arn}`,
    certificateChainPath: paths.chain,
    ...flags,
  });
  return { server, paths, created };
}

describe('AWS KMS signer (real @aws-sdk/client-kms against a fake KMS)', () => {
  it('an RSA key whose leaf certificate restricts it to PSS signs RSASSA_PSS_SHA_384', async () => {
    const created = fake.createKey('rsa-3072', `tsa-pss-${Math.random().toString(36).slice(2)}`);
    const paths = await writeChainFor(asRsaPssKey(created.key.publicKey!), dir);
    const server = await createFlagServer({
      timestampSigner: 'kms',
      kmsKeyResource: `awskms:///${created.arn}`,
      certificateChainPath: paths.chain,
      timestampSignerHash: 'sha384',
    });
    try {
      expect(server.signer.algorithm).toMatchObject({ oid: '1.2.840.113549.1.1.10', pss: true });
      expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
      expect(fake.signingAlgorithmsUsed.at(-1)).toBe('RSASSA_PSS_SHA_384');
    } finally {
      await server.close();
    }
  });

  it.each([
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384'],
    ['rsa-2048', 'sha256'],
    ['rsa-3072', 'sha512'],
  ] as const)('%s key with %s issues tokens that openssl verifies', async (kind, hash) => {
    const { server, paths } = await serverFor(kind, { timestampSignerHash: hash });
    expect(server.signer.id).toMatch(/^awskms:arn:aws:kms:us-east-1:/);
    expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
    // The SDK signed its requests with the default credential chain (env here).
    expect(fake.signatures.at(-1)?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDFAKEFORTESTS\//,
    );
    await server.close();
  });

  it('accepts an alias and a bare key id', async () => {
    const created = fake.createKey('ec-p256', 'by-alias');
    const paths = await writeChainFor(created.key.publicKey!, dir);
    for (const reference of ['alias/by-alias', created.id]) {
      const server = await createFlagServer({
        timestampSigner: 'kms',
        kmsKeyResource: `awskms:///${reference}`,
        certificateChainPath: paths.chain,
      });
      expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
      await server.close();
    }
  });

  it.each([
    ['an alias', (alias: string) => `alias/${alias}`, {}],
    [
      'an alias ARN, --verify-tokens off',
      (alias: string) => `arn:aws:kms:us-east-1:111122223333:alias/${alias}`,
      { verifyTokens: false },
    ],
  ] as const)(
    '%s: signs with the key it resolved to at start, after UpdateAlias repoints it',
    async (_, reference, flags) => {
      const alias = `repointed-${Math.random().toString(36).slice(2)}`;
      const original = fake.createKey('ec-p256', alias);
      const paths = await writeChainFor(original.key.publicKey!, dir);
      const server = await createFlagServer({
        timestampSigner: 'kms',
        kmsKeyResource: `awskms:///${reference(alias)}`,
        certificateChainPath: paths.chain,
        ...flags,
      });
      try {
        // The start-up log names the key behind the alias.
        expect(server.signer.id).toBe(`awskms:${reference(alias)} (key ${original.arn})`);
        expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
        // Repointed through the real API, as an operator would, to a key of the same spec.
        const other = fake.createKey('ec-p256');
        const client = new KMSClient({ endpoint: fake.origin, region: 'us-east-1' });
        try {
          await client.send(
            new UpdateAliasCommand({ AliasName: `alias/${alias}`, TargetKeyId: other.id }),
          );
          const described = await client.send(new DescribeKeyCommand({ KeyId: `alias/${alias}` }));
          expect(described.KeyMetadata?.Arn).toBe(other.arn);
        } finally {
          client.destroy();
        }
        const before = fake.signatures.length;
        for (let i = 0; i < 3; i++)
          expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
        expect(fake.signatures.slice(before).map(({ keyId }) => keyId)).toEqual([
          original.arn,
          original.arn,
          original.arn,
        ]);
      } finally {
        await server.close();
      }
    },
  );

  it('refuses to start when the key fixes another hash than --timestamp-signer-hash', async () => {
    await expect(serverFor('ec-p384', { timestampSignerHash: 'sha256' })).rejects.toThrow(
      /signs with SHA384 but --timestamp-signer-hash is sha256; set --timestamp-signer-hash=sha384/,
    );
  });

  it('refuses to start with a key that cannot sign (wrong key type)', async () => {
    const created = fake.createKey('aes-256');
    const paths = await writeChainFor(
      (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      dir,
    );
    await expect(
      createFlagServer({
        timestampSigner: 'kms',
        kmsKeyResource: `awskms:///${created.arn}`,
        certificateChainPath: paths.chain,
      }),
    ).rejects.toThrow(/key usage is ENCRYPT_DECRYPT, not SIGN_VERIFY/);
  });

  it('refuses a malformed URI with the Go message', async () => {
    await expect(
      createFlagServer({
        timestampSigner: 'kms',
        kmsKeyResource: 'awskms://x/not a key',
        certificateChainPath: dir.write('x.pem', ''),
      }),
    ).rejects.toThrow(/no certificates found|awskms:\/\/\[ENDPOINT\]/);
  });
});
