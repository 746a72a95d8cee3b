import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openKeyReference } from '../../../src/signers/key-reference.js';
import { tempDir } from '../../helpers/openssl.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('key references', () => {
  it('opens a PEM key named by a file:// URI, as by its path', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const path = dir.write('ledger.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    for (const reference of [path, `file://${path}`]) {
      const signer = await openKeyReference(reference, 'auto');
      expect(signer.publicKey.export({ type: 'spki', format: 'der' })).toEqual(spki);
      expect(signer.id).toBe(`file:${path}`);
    }
  });

  it('refuses a key file larger than 1 MiB without reading it all', async () => {
    const path = dir.write('huge.pem', Buffer.alloc((1 << 20) + 1, 0x41));
    await expect(openKeyReference(path, 'auto')).rejects.toMatchObject({
      code: 'KEY_UNREADABLE',
      message: `cannot read key file ${path}: larger than 1048576 bytes, not a key file`,
    });
  });

  it('refuses a KMS URI with credentials without quoting them, and a malformed one', async () => {
    for (const uri of [
      'azurekms://admin:S3cretPw@127.0.0.1:9/tsa-key',
      'awskms://admin:S3cretPw@127.0.0.1:9/alias/tsa',
    ]) {
      const refused = await openKeyReference(uri, 'auto').then(
        () => undefined,
        (error: unknown) => error as Error & { code: string },
      );
      expect(refused?.code).toBe('INVALID_KEY_URI');
      expect(refused?.message).toMatch(/holds credentials/);
      expect(refused?.message).not.toContain('S3cretPw');
    }
    await expect(openKeyReference('gcpkms://projects/p', 'auto')).rejects.toMatchObject({
      code: 'INVALID_KEY_URI',
      message: expect.stringContaining('kms specification should be in the format gcpkms://'),
    });
  });

  it('refuses an awskms:// endpoint that is no host[:port] before any client is built, never quoting it', async () => {
    for (const [uri, problem] of [
      ['awskms://127.0.0.1:9?token=S3cretPw/alias/tsa', 'must not have a query or a fragment'],
      ['awskms://127.0.0.1:9#S3cretPw/alias/tsa', 'must not have a query or a fragment'],
      ['awskms://ht tpS3cretPw/alias/tsa', 'is not a URL such as'],
    ]) {
      const refused = await openKeyReference(uri!, 'auto').then(
        () => undefined,
        (error: unknown) => error as Error & { code: string },
      );
      expect(refused?.code).toBe('INVALID_KEY_URI');
      expect(refused?.message).toMatch(new RegExp(`^the endpoint of key reference ${problem}`));
      expect(refused?.message).not.toContain('S3cretPw');
    }
  });

  it('still refuses other URI schemes it has no signer for', async () => {
    await expect(openKeyReference('s3://bucket/key.pem', 'auto')).rejects.toMatchObject({
      code: 'INVALID_KEY_URI',
    });
  });
});
