import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TimestampAuthority } from '../../../../src/tsp/authority.js';
import { parseCertificate } from '../../../../src/x509/certificate.js';
import { decodeCertificatesPem } from '../../../helpers/pem.js';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { DEFAULT_REMOTE_CALL_POLICY } from '../../../../src/signers/kms/remote-signer.js';
import { startFakeAzureKeyVault } from '../../../fakes/azure-key-vault.js';
import { HELD_DEADLINE_MS, holdTimers } from '../../../helpers/held-timer.js';
import { openssl, tempDir } from '../../../helpers/openssl.js';
import { waitUntil } from '../../../helpers/poll.js';
import { asRsaPssKey, writeChainFor } from '../../../helpers/remote-tsa.js';
import { readFileSync } from 'node:fs';
import { defaultAuthority } from '../../../helpers/authority.js';

let fake: Awaited<ReturnType<typeof startFakeAzureKeyVault>>;
const dir = tempDir();

beforeAll(async () => {
  fake = await startFakeAzureKeyVault();
  Object.assign(process.env, fake.identityEnv);
});
afterAll(async () => {
  await fake.close();
  dir.cleanup();
});
beforeEach(() => fake.faults.reset());

/**
 * No call to the fake, which answers unless told to hang, should meet its deadline however slow
 * the machine: the one test of the deadline holds it until the call has reached the vault.
 */
const POLICY = { ...DEFAULT_REMOTE_CALL_POLICY, timeoutMs: HELD_DEADLINE_MS };

/**
 * The signer and an authority using it. The signer trusts the fake's self-signed certificate (a
 * provider option; production uses the system CAs, or NODE_EXTRA_CA_CERTS), so this bypasses the
 * flag path.
 */
async function authorityFor(
  kind: Parameters<typeof fake.createKey>[1],
  hash: 'sha256' | 'sha384' | 'sha512',
  policy = {},
  pssLeaf = false,
) {
  const name = `tsa-${kind}-${Math.random().toString(36).slice(2, 8)}`;
  const key = fake.createKey(name, kind);
  const leafKey = pssLeaf ? asRsaPssKey(key.publicKey!) : key.publicKey!;
  const paths = await writeChainFor(leafKey, dir);
  const signer = await createKmsSigner(
    `azurekms://${fake.host}/${name}`,
    hash,
    { ...POLICY, ...policy },
    { ca: fake.cert },
    leafKey,
  );
  const chain = decodeCertificatesPem(readFileSync(paths.chain, 'utf8')).map(parseCertificate);
  const authority = defaultAuthority(signer, chain);
  return { signer, authority, paths };
}

async function issue(authority: TimestampAuthority) {
  const data = dir.write('data.txt', `artifact ${Math.random()}`);
  const query = dir.path('request.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const outcome = await authority.issue(readFileSync(query), 'der');
  return { outcome, data };
}

async function issueAndVerify(authority: TimestampAuthority, root: string) {
  const { outcome, data } = await issue(authority);
  expect(outcome.status).toBe('granted');
  return openssl([
    'ts',
    '-verify',
    '-in',
    dir.write('reply.tsr', outcome.der),
    '-data',
    data,
    '-CAfile',
    root,
  ]);
}

describe('Azure Key Vault signer (real @azure/keyvault-keys + DefaultAzureCredential against a fake vault)', () => {
  it.each([
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384'],
    ['ec-p521', 'sha512'],
    ['rsa-2048', 'sha256'],
    ['rsa-3072', 'sha384'],
  ] as const)(
    '%s key with %s issues tokens that openssl verifies (raw r||s converted to DER)',
    async (kind, hash) => {
      const { signer, authority, paths } = await authorityFor(kind, hash);
      expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
      expect(fake.tokensIssued()).toBeGreaterThan(0); // the credential came from the managed identity endpoint
      await signer[Symbol.asyncDispose]();
    },
  );

  it('signs at the configured endpoint, whatever host the vault names its keys by', async () => {
    // A real vault writes every kid with its own name: reached through a private endpoint or a
    // front given as the azurekms:// host, the SDK's client built from the key signed at the
    // kid's host instead. Here that host does not answer at all.
    fake.nameKeysBy('127.0.0.1:1');
    try {
      const { signer, authority, paths } = await authorityFor('ec-p256', 'sha256');
      expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
      await signer[Symbol.asyncDispose]();
    } finally {
      fake.nameKeysBy(undefined);
    }
  });

  it('an RSA key whose leaf certificate restricts it to PSS signs PS512', async () => {
    const { signer, authority, paths } = await authorityFor('rsa-2048', 'sha512', {}, true);
    expect(signer.algorithm).toMatchObject({ oid: '1.2.840.113549.1.1.10', pss: true });
    expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
    await signer[Symbol.asyncDispose]();
  });

  it('refuses to start on a hash mismatch or a key that cannot sign', async () => {
    await expect(authorityFor('ec-p384', 'sha256')).rejects.toThrow(
      /signs with SHA384 but --timestamp-signer-hash is sha256/,
    );
    fake.createKey('symmetric', 'aes-256');
    await expect(
      createKmsSigner(`azurekms://${fake.host}/symmetric`, 'sha256', POLICY, { ca: fake.cert }),
    ).rejects.toThrow(/key type oct-HSM cannot sign/);
  });

  it('systemFailure on a 500 without retrying, then recovers', async () => {
    const { signer, authority, paths } = await authorityFor('ec-p256', 'sha256');
    fake.faults.errorStatus = 500;
    fake.faults.calls.length = 0;
    const { outcome } = await issue(authority);
    expect(outcome).toMatchObject({ status: 'rejection', failInfo: 'systemFailure' });
    expect(fake.faults.count('sign')).toBe(1);
    fake.faults.errorStatus = undefined;
    expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
    await signer[Symbol.asyncDispose]();
  });

  it('retries 429 and succeeds; systemFailure when it lasts', async () => {
    const { signer, authority, paths } = await authorityFor('ec-p256', 'sha256', { maxRetries: 2 });
    fake.faults.throttleCount = 2;
    fake.faults.calls.length = 0;
    expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
    expect(fake.faults.count('sign')).toBe(3);
    fake.faults.throttleCount = 10;
    fake.faults.calls.length = 0;
    expect((await issue(authority)).outcome).toMatchObject({ failInfo: 'systemFailure' });
    expect(fake.faults.count('sign')).toBe(3);
    await signer[Symbol.asyncDispose]();
  });

  it('systemFailure when the vault hangs past the timeout, then recovers', async () => {
    // A clock that stands still: a signature's deadline timer is then set for the whole timeout,
    // not for what is left of it, and holdTimers holds it until the hung call has reached the
    // vault, however slow the machine is in getting there. The call after it has all the time
    // it needs.
    const { signer, authority, paths } = await authorityFor('ec-p256', 'sha256', { now: () => 0 });
    const deadline = holdTimers(HELD_DEADLINE_MS);
    fake.faults.hang = true;
    fake.faults.calls.length = 0;
    let settled = false;
    const issuing = issue(authority).finally(() => (settled = true));
    await waitUntil(() => fake.faults.count('sign') > 0 || settled);
    expect(deadline.count()).toBe(1);
    deadline.release();
    expect((await issuing).outcome).toMatchObject({ failInfo: 'systemFailure' });
    expect(fake.faults.count('sign')).toBe(1);
    fake.faults.hang = false;
    expect(await issueAndVerify(authority, paths.root)).toContain('Verification: OK');
    await signer[Symbol.asyncDispose]();
  });

  it("refuses an ECDSA signature not of the curve's length (P-384: 96 bytes), even of even length", async () => {
    const { signer } = await authorityFor('ec-p384', 'sha384');
    try {
      fake.cutEcdsaSignatures(64);
      await expect(signer.sign(Buffer.from('signed attributes'))).rejects.toMatchObject({
        code: 'BAD_ANSWER',
        message: "raw ECDSA signature has 64 bytes, not the curve's 96",
      });
      fake.cutEcdsaSignatures(undefined);
      await expect(signer.sign(Buffer.from('signed attributes'))).resolves.toBeInstanceOf(Buffer);
    } finally {
      fake.cutEcdsaSignatures(undefined);
      await signer[Symbol.asyncDispose]();
    }
  });
});
