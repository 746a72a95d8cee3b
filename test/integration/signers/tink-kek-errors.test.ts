import { randomBytes } from 'node:crypto';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTinkSigner } from '../../../src/signers/tink/tink-signer.js';
import { openKek } from '../../../src/signers/tink/open-kek.js';
import { startKekServices, type KekServices } from '../../fakes/kek-services.js';
import { HTML_PAGE, startFakeOddService, type OddAnswer } from '../../helpers/odd-answers.js';
import { closedPort } from '../../helpers/process.js';
import { tempDir } from '../../helpers/openssl.js';
import { restoreEnvAfterAll } from '../../helpers/env.js';
import { AWS_KMS_VARIABLES } from '../../helpers/fake-aws-kms.js';

/**
 * A Tink keyset's KEK that cannot be reached, or answers an error page or a 5xx, said nothing of
 * the keyset, yet was reported as `decryption failed with the aws-kms:// KEK (wrong KEK, a keyset
 * written with associated data, or a damaged file): connect ECONNREFUSED …`. Only the service's
 * refusal to decrypt gets that hint; anything else says the KEK's service failed, how, and the
 * endpoint override in effect. Through the real SDKs and fetch, against fakes on 127.0.0.1.
 */
const VAULT_TOKEN = 'hvs.kek-errors-token';
const work = tempDir();
const keysetPath = work.write(
  'keyset.json',
  JSON.stringify({ encryptedKeyset: randomBytes(64).toString('base64') }),
);
const WRONG_KEK = '(wrong KEK, a keyset written with associated data, or a damaged file)';
let services: KekServices;
let odd: Awaited<ReturnType<typeof startFakeOddService>>;
/** A port nothing listens on, and nothing can take while the file runs. */
let closed: Awaited<ReturnType<typeof closedPort>>;
const VARIABLES = [
  ...AWS_KMS_VARIABLES,
  'METADATA_SERVER_DETECTION',
  'GCP_KMS_ENDPOINT',
  'TINK_HCVAULT_ADDR',
] as const;
restoreEnvAfterAll(VARIABLES);

beforeAll(async () => {
  services = await startKekServices(VAULT_TOKEN);
  odd = await startFakeOddService();
  closed = await closedPort();
});
afterAll(async () => {
  await closed?.close();
  await services?.close();
  await odd?.close();
  work.cleanup();
});

/** The start-up error of the Tink signer on `keyset` with the KEK `kekUri`. */
async function startupFailure(kekUri: string, keyset = keysetPath) {
  return createTinkSigner({
    keysetPath: keyset,
    kekUri,
    vaultToken: VAULT_TOKEN,
    hash: 'sha256',
    openKek,
    timeoutMs: 30_000,
  }).then(
    () => {
      throw new Error('it started');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

/** A keyset file whose encryptedKeyset is `ciphertext`. */
function keysetOf(ciphertext: Uint8Array): string {
  return work.write(
    `keyset-${randomBytes(4).toString('hex')}.json`,
    JSON.stringify({ encryptedKeyset: Buffer.from(ciphertext).toString('base64') }),
  );
}

const GCP_KEY = 'projects/p/locations/global/keyRings/r/cryptoKeys/kek-errors';

describe('Tink: a KEK service that fails is not a wrong KEK', () => {
  it('unreachable (connection refused): aws-kms://, gcp-kms://, hcvault://', async () => {
    const refusing = `http://127.0.0.1:${closed.port}`;
    const arn = services.aws.createKey('aes-256').arn;
    process.env['AWS_ENDPOINT_URL_KMS'] = refusing;
    const aws = await startupFailure(`aws-kms://${arn}`);
    expect(aws).toMatchObject({
      code: 'KEK_UNAVAILABLE',
      message: `tink: keyset ${keysetPath}: cannot reach or use the aws-kms:// KEK: AWS KMS call failed: connect ECONNREFUSED 127.0.0.1:${closed.port} (endpoint override: AWS_ENDPOINT_URL_KMS)`,
    });
    process.env['GCP_KMS_ENDPOINT'] = refusing;
    const gcp = await startupFailure(`gcp-kms://${GCP_KEY}`);
    expect(gcp).toMatchObject({ code: 'KEK_UNAVAILABLE' });
    expect(gcp.message).toMatch(
      /cannot reach or use the gcp-kms:\/\/ KEK: Cloud KMS call failed: 14 UNAVAILABLE: .* \(endpoint override: GCP_KMS_ENDPOINT\)$/,
    );
    process.env['TINK_HCVAULT_ADDR'] = refusing;
    const vault = await startupFailure('hcvault://vault.example/transit/keys/k');
    expect(vault).toMatchObject({
      code: 'KEK_UNAVAILABLE',
      message: `tink: keyset ${keysetPath}: cannot reach or use the hcvault:// KEK: Vault PUT /v1/transit/decrypt/k: request failed (ECONNREFUSED) (endpoint override: TINK_HCVAULT_ADDR)`,
    });
    for (const failure of [aws, gcp, vault]) expect(failure.message).not.toContain(WRONG_KEK);
  });

  it.each<[string, OddAnswer, RegExp]>([
    ['an HTML page', HTML_PAGE, /AWS KMS answered HTTP 502 \(text\/html\): SyntaxError: /],
    [
      'a 500',
      { status: 500, contentType: 'application/json', body: '{}' },
      /AWS KMS answered HTTP 500 \(application\/json\): UnknownError/,
    ],
  ])('aws-kms:// answering %s', async (_, answer, described) => {
    odd.answer(answer);
    process.env['AWS_ENDPOINT_URL_KMS'] = odd.origin;
    const failure = await startupFailure(`aws-kms://${services.aws.createKey('aes-256').arn}`);
    expect(failure).toMatchObject({ code: 'KEK_UNAVAILABLE' });
    expect(failure.message).toMatch(described);
    expect(failure.message).toMatch(
      /^tink: keyset .*: cannot reach or use the aws-kms:\/\/ KEK: .*\(endpoint override: AWS_ENDPOINT_URL_KMS\)$/,
    );
  });

  it.each<[string, OddAnswer, string]>([
    ['an HTML page', HTML_PAGE, 'failed with HTTP 502'],
    [
      'a 500',
      { status: 500, contentType: 'application/json', body: '{"errors":["internal error"]}' },
      'failed with HTTP 500: internal error',
    ],
  ])('hcvault:// answering %s', async (_, answer, described) => {
    odd.answer(answer);
    process.env['TINK_HCVAULT_ADDR'] = odd.origin;
    const failure = await startupFailure('hcvault://vault.example/transit/keys/k');
    expect(failure).toMatchObject({
      code: 'KEK_UNAVAILABLE',
      message: `tink: keyset ${keysetPath}: cannot reach or use the hcvault:// KEK: Vault PUT /v1/transit/decrypt/k ${described} (endpoint override: TINK_HCVAULT_ADDR)`,
    });
  });

  it("the service's refusal to decrypt keeps the wrong-KEK hint, on each service", async () => {
    process.env['AWS_ENDPOINT_URL_KMS'] = services.aws.origin;
    process.env['GCP_KMS_ENDPOINT'] = services.gcp.endpoint;
    process.env['TINK_HCVAULT_ADDR'] = services.vault.origin;
    const blob = randomBytes(40);
    // Wrapped by another key of the same service than the KEK named.
    const awsOther = services.aws.createKey('aes-256');
    const awsKek = services.aws.createKey('aes-256');
    const aws = await startupFailure(
      `aws-kms://${awsKek.arn}`,
      keysetOf(services.aws.encrypt(awsOther.id, blob, { associatedData: 'ab' })),
    );
    services.gcp.addVersion(GCP_KEY, 1, 'aes-256');
    const tampered = services.gcp.encrypt(GCP_KEY, blob);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    const gcp = await startupFailure(`gcp-kms://${GCP_KEY}`, keysetOf(tampered));
    services.vault.createKey('kek-errors', 'aes-256');
    const vaultCiphertext = services.vault.encrypt('kek-errors', blob).replace(/.{4}$/, 'AAAA');
    const vault = await startupFailure(
      'hcvault://vault.example/transit/keys/kek-errors',
      keysetOf(Buffer.from(vaultCiphertext, 'utf8')),
    );
    expect(aws.message).toMatch(/InvalidCiphertextException/);
    expect(gcp.message).toMatch(/Cloud KMS answered 3 INVALID_ARGUMENT: Decryption failed/);
    expect(vault.message).toMatch(/HTTP 400: cipher: message authentication failed/);
    for (const [scheme, failure] of [
      ['aws-kms', aws],
      ['gcp-kms', gcp],
      ['hcvault', vault],
    ] as const) {
      expect(failure).toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect(failure.message).toContain(
        `decryption failed with the ${scheme}:// KEK ${WRONG_KEK}: `,
      );
    }
  });
});

describe("Tink: a KEK answer without a usable plaintext is the KEK service's failure, not the keyset's", () => {
  it.each<[string, string]>([
    ['no plaintext', '{"data":{}}'],
    ['an empty plaintext', '{"data":{"plaintext":""}}'],
    ['a plaintext that is not base64', '{"data":{"plaintext":"!!!not base64 at all!!!"}}'],
    ['base64 with a character past its padding', '{"data":{"plaintext":"AAAA=A"}}'],
    ['a number', '{"data":{"plaintext":12345}}'],
  ])('hcvault:// answering 200 with %s', async (_, body) => {
    odd.answer({ status: 200, contentType: 'application/json', body });
    process.env['TINK_HCVAULT_ADDR'] = odd.origin;
    const failure = await startupFailure('hcvault://vault.example/transit/keys/k');
    expect(failure).toMatchObject({
      code: 'KEK_UNAVAILABLE',
      message: `tink: keyset ${keysetPath}: cannot reach or use the hcvault:// KEK: Vault transit decrypt answered without a base64 plaintext (endpoint override: TINK_HCVAULT_ADDR)`,
    });
  });

  it.each<[string, unknown]>([
    ['no plaintext', {}],
    ['a null plaintext', { plaintext: null }],
    ['an empty plaintext', { plaintext: Buffer.alloc(0) }],
  ])('gcp-kms:// answering %s', async (_, response) => {
    process.env['GCP_KMS_ENDPOINT'] = services.gcp.endpoint;
    const spy = vi
      .spyOn(KeyManagementServiceClient.prototype, 'decrypt')
      .mockResolvedValue([response] as never);
    try {
      const failure = await startupFailure(`gcp-kms://${GCP_KEY}`);
      expect(failure).toMatchObject({
        code: 'KEK_UNAVAILABLE',
        message: `tink: keyset ${keysetPath}: cannot reach or use the gcp-kms:// KEK: Cloud KMS decrypt answered without a plaintext (endpoint override: GCP_KMS_ENDPOINT)`,
      });
    } finally {
      spy.mockRestore();
    }
  });
});
