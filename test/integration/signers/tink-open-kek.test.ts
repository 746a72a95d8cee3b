import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { crc32c } from '../../../src/signers/tink/crc32c.js';
import { TYPE_URL } from '../../../src/signers/tink/keyset.js';
import { openKek } from '../../../src/signers/tink/open-kek.js';
import { createTinkSigner } from '../../../src/signers/tink/tink-signer.js';
import { startKekServices, type KekServices } from '../../fakes/kek-services.js';
import { tempDir } from '../../helpers/openssl.js';
import { bytesField, encodeKeyset, uintField } from '../../helpers/protobuf-encode.js';

/** The blob a KEK wraps: opaque to the KEK, so any bytes stand for a serialized Keyset. */
const KEYSET = randomBytes(311);
const EMPTY = new Uint8Array(0);

let services: KekServices;
let aws: KekServices['aws'];
let gcp: KekServices['gcp'];
let vault: KekServices['vault'];
const VAULT_TOKEN = 'hvs.tink-kek-token';

beforeAll(async () => {
  services = await startKekServices(VAULT_TOKEN);
  ({ aws, gcp, vault } = services);
});
afterAll(async () => {
  await services?.close();
  work.cleanup();
});
const work = tempDir();

describe('openKek', () => {
  it('crc32c matches the Castagnoli check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(EMPTY)).toBe(0);
  });

  it('aws-kms:// decrypts with KMS Decrypt in the ARN region, EncryptionContext only for non-empty AD', async () => {
    const { id, arn } = aws.createKey('aes-256');
    const kek = await openKek(`aws-kms://${arn}`, {});
    expect(kek.uri).toBe(`aws-kms://${arn}`);
    // Empty AD: encrypted without any context, as tinkey writes keysets.
    expect(Buffer.from(await kek.decrypt(aws.encrypt(id, KEYSET), EMPTY))).toEqual(KEYSET);
    const ad = Buffer.from('tsa keyset ad');
    const withAd = aws.encrypt(id, KEYSET, { associatedData: ad.toString('hex') });
    expect(Buffer.from(await kek.decrypt(withAd, ad))).toEqual(KEYSET);
    await expect(kek.decrypt(withAd, EMPTY)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
      message: expect.stringContaining('InvalidCiphertextException') as unknown,
    });
  });

  it('aws-kms:// takes an alias ARN: KMS answers with the key ARN, checked only for a key ARN (as Tink)', async () => {
    const { id, arn } = aws.createKey('aes-256', 'tink-kek');
    const aliasArn = arn.replace(/key\/.*$/, 'alias/tink-kek');
    const ciphertext = aws.encrypt(id, KEYSET);
    const byAlias = await openKek(`aws-kms://${aliasArn}`, {});
    expect(Buffer.from(await byAlias.decrypt(ciphertext, EMPTY))).toEqual(KEYSET);
    const byKey = await openKek(`aws-kms://${arn}`, {});
    expect(Buffer.from(await byKey.decrypt(ciphertext, EMPTY))).toEqual(KEYSET);
  });

  it('gcp-kms:// decrypts with Cloud KMS Decrypt and CRC32C fields', async () => {
    const cryptoKey = 'projects/p/locations/global/keyRings/r/cryptoKeys/kek';
    gcp.addVersion(cryptoKey, 1, 'aes-256');
    const kek = await openKek(`gcp-kms://${cryptoKey}`, {});
    expect(Buffer.from(await kek.decrypt(gcp.encrypt(cryptoKey, KEYSET), EMPTY))).toEqual(KEYSET);
    const sent = gcp.decryptRequests.at(-1)!;
    expect(sent['name']).toBe(cryptoKey);
    expect(sent['ciphertextCrc32c']).toEqual({ value: expect.stringMatching(/^\d+$/) });
    expect(sent['additionalAuthenticatedDataCrc32c']).toEqual({ value: '0' });
    const ad = Buffer.from('ad');
    expect(Buffer.from(await kek.decrypt(gcp.encrypt(cryptoKey, KEYSET, ad), ad))).toEqual(KEYSET);
    const tampered = gcp.encrypt(cryptoKey, KEYSET);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    await expect(kek.decrypt(tampered, EMPTY)).rejects.toThrow(/Decryption failed/);
  });

  it('hcvault:// decrypts with transit decrypt, the token and the legacy context field', async () => {
    vault.createKey('tink-kek', 'aes-256');
    const kek = await openKek(`hcvault://vault.example:8200/transit/keys/tink-kek`, {
      vaultToken: VAULT_TOKEN,
    });
    const ciphertext = Buffer.from(vault.encrypt('tink-kek', KEYSET), 'utf8');
    expect(Buffer.from(await kek.decrypt(ciphertext, EMPTY))).toEqual(KEYSET);
    expect(vault.requests.at(-1)).toMatchObject({ operation: 'decrypt', body: { context: '' } });
    const wrongToken = await openKek('hcvault://vault.example/transit/keys/tink-kek', {
      vaultToken: 'hvs.nope',
    });
    await expect(wrongToken.decrypt(ciphertext, EMPTY)).rejects.toThrow(/HTTP 403/);
  });

  it('hcvault:// refuses a token with a line break, naming where it came from, never the token', async () => {
    const secret = 'hvs.TINK-secret-marker';
    const uri = 'hcvault://127.0.0.1:9/transit/keys/k';
    const failure = (tokenOption: string | undefined) =>
      openKek(uri, tokenOption === undefined ? {} : { vaultToken: tokenOption }).then(
        () => new Error('opened'),
        (error: unknown) => error as Error,
      );
    const fromOption = await failure(`${secret}\r\nx`);
    expect(fromOption).toMatchObject({
      code: 'NO_CREDENTIALS',
      message:
        'the Vault token for the Tink KEK (--tink-hcvault-token, --tink-hcvault-token-file or TINK_HCVAULT_TOKEN) does not hold a single Vault token: it has a space, a line break or a character no token has',
    });
    const saved = process.env['VAULT_TOKEN'];
    process.env['VAULT_TOKEN'] = `${secret}\n\n`;
    try {
      const fromEnv = await failure(undefined);
      expect(fromEnv.message).toMatch(/^the Vault token for the Tink KEK \(VAULT_TOKEN\) does not/);
      expect(`${fromOption.message} ${fromEnv.message}`).not.toContain(secret);
    } finally {
      if (saved === undefined) delete process.env['VAULT_TOKEN'];
      else process.env['VAULT_TOKEN'] = saved;
    }
  });

  it('refuses other URIs with the Go message', async () => {
    await expect(openKek('fake-kms://abc', {})).rejects.toThrow('unsupported Tink KMS key type');
    await expect(openKek(`gcp-kms-x://${randomBytes(2).toString('hex')}`, {})).rejects.toThrow(
      'unsupported Tink KMS key type',
    );
  });
});

/** A serialized Keyset of one fresh ECDSA P-256 key (SHA256, DER, TINK), as tinkey writes it. */
function p256Keyset(): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'jwk',
  });
  const field = (base64url: string | undefined) => Buffer.from(base64url ?? '', 'base64url');
  const params = Buffer.concat([uintField(1, 3), uintField(2, 2), uintField(3, 1)]);
  const publicKey = Buffer.concat([
    bytesField(2, params),
    bytesField(3, field(jwk.x)),
    bytesField(4, field(jwk.y)),
  ]);
  const value = Buffer.concat([bytesField(2, publicKey), bytesField(3, field(jwk.d))]);
  return encodeKeyset(11, [{ keyId: 11, typeUrl: TYPE_URL.ecdsaPrivateKey, value }]);
}

describe('openKek: the SDK answer holding the cleartext keyset', () => {
  it("aws-kms:// and gcp-kms:// hand over the SDK's own plaintext bytes, which the Tink signer zeroes", async () => {
    const keyset = p256Keyset();
    const answers: Uint8Array[] = [];
    const awsSend = KMSClient.prototype.send;
    const awsSpy = vi.spyOn(KMSClient.prototype, 'send').mockImplementation(async function (
      this: KMSClient,
      ...args: unknown[]
    ) {
      const response = (await (awsSend as (...a: unknown[]) => Promise<unknown>).apply(
        this,
        args,
      )) as { Plaintext?: Uint8Array };
      if (response.Plaintext) answers.push(response.Plaintext);
      return response;
    } as never);
    const gcpDecrypt = KeyManagementServiceClient.prototype.decrypt;
    const gcpSpy = vi
      .spyOn(KeyManagementServiceClient.prototype, 'decrypt')
      .mockImplementation(async function (this: KeyManagementServiceClient, ...args: unknown[]) {
        const answer = (await (gcpDecrypt as (...a: unknown[]) => Promise<unknown>).apply(
          this,
          args,
        )) as [{ plaintext?: Uint8Array }];
        if (answer[0].plaintext) answers.push(answer[0].plaintext);
        return answer;
      } as never);
    try {
      const { id, arn } = aws.createKey('aes-256');
      const cryptoKey = 'projects/p/locations/global/keyRings/r/cryptoKeys/zeroed';
      gcp.addVersion(cryptoKey, 1, 'aes-256');
      for (const [kekUri, ciphertext] of [
        [`aws-kms://${arn}`, aws.encrypt(id, keyset)],
        [`gcp-kms://${cryptoKey}`, gcp.encrypt(cryptoKey, keyset)],
      ] as const) {
        const keysetPath = work.write(
          `zeroed-${answers.length}.json`,
          JSON.stringify({ encryptedKeyset: Buffer.from(ciphertext).toString('base64') }),
        );
        const signer = await createTinkSigner({
          keysetPath,
          kekUri,
          vaultToken: '',
          hash: 'sha256',
          openKek,
        });
        expect(signer.algorithm.curve).toBe('prime256v1');
      }
      expect(answers).toHaveLength(2);
      // Each was the keyset (its length), and holds nothing of it now.
      for (const answer of answers) {
        expect(answer.length).toBe(keyset.length);
        expect(answer.every((byte) => byte === 0)).toBe(true);
      }
    } finally {
      awsSpy.mockRestore();
      gcpSpy.mockRestore();
    }
  });
});
