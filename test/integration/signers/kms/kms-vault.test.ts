import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import { tempDir } from '../../../helpers/openssl.js';
import {
  createFlagServer,
  issueAndVerify,
  asRsaPssKey,
  requestToken,
  writeChainFor,
} from '../../../helpers/remote-tsa.js';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { createSigner } from '../../../../src/signers/create-signer.js';
import { resolveServeConfig } from '../../../../src/config/resolve.js';
import { signerConfigFrom } from '../../../../src/config/signer-config.js';

const TOKEN = 'hvs.fake-test-token-do-not-log';
let vault: Awaited<ReturnType<typeof startFakeVault>>;
const dir = tempDir();

beforeAll(async () => {
  vault = await startFakeVault({ token: TOKEN, mount: 'tsa/transit' });
  process.env['VAULT_ADDR'] = vault.origin;
  process.env['VAULT_TOKEN'] = TOKEN;
  process.env['TRANSIT_SECRET_ENGINE_PATH'] = 'tsa/transit';
});
afterAll(async () => {
  await vault.close();
  dir.cleanup();
});
beforeEach(() => vault.faults.reset());

async function serverFor(
  kind: Parameters<typeof vault.createKey>[1],
  flags: Record<string, unknown> = {},
  scheme = 'hashivault',
) {
  const name = `tsa-${kind}-${Math.random().toString(36).slice(2, 8)}`;
  const key = vault.createKey(name, kind);
  const paths = await writeChainFor(key.publicKey!, dir);
  const server = await createFlagServer({
    timestampSigner: 'kms',
    kmsKeyResource: `${scheme}://${name}`,
    certificateChainPath: paths.chain,
    ...flags,
  });
  return { server, paths };
}

describe('Vault / OpenBao transit signer (fetch against a fake transit engine)', () => {
  it('an RSA key whose leaf certificate restricts it to PSS signs pss with the hash-length salt', async () => {
    const name = `tsa-pss-${Math.random().toString(36).slice(2, 8)}`;
    const key = vault.createKey(name, 'rsa-3072');
    const paths = await writeChainFor(asRsaPssKey(key.publicKey!), dir);
    const server = await createFlagServer({
      timestampSigner: 'kms',
      kmsKeyResource: `hashivault://${name}`,
      certificateChainPath: paths.chain,
    });
    try {
      expect(server.signer.algorithm).toMatchObject({ hash: 'sha256', pss: true });
      expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
      const sign = vault.requests.filter((request) => request.operation === 'sign').at(-1);
      expect(sign?.body).toMatchObject({ signature_algorithm: 'pss', salt_length: 'hash' });
    } finally {
      await server.close();
    }
  });

  it.each([
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384'],
    ['ec-p521', 'sha512'],
    ['rsa-2048', 'sha256'],
    ['rsa-4096', 'sha512'],
  ] as const)('%s key with %s issues tokens that openssl verifies', async (kind, hash) => {
    const { server, paths } = await serverFor(kind, { timestampSignerHash: hash });
    expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
    const sign = vault.requests.filter((request) => request.operation === 'sign').at(-1);
    expect(sign?.body).toMatchObject({ prehashed: true, key_version: 1 });
    await server.close();
  });

  it('--verify-tokens unset checks every token of the remote key; an explicit false still wins', async () => {
    const { server } = await serverFor('ec-p256');
    expect(server.signer.keyOutsideProcess).toBe(true);
    expect(server.authority.encoder.verifySignatures).toBe(true);
    await server.close();
    const off = await serverFor('ec-p256', { verifyTokens: false });
    expect(off.server.authority.encoder.verifySignatures).toBe(false);
    await off.server.close();
  });

  it('openbao:// reads BAO_ADDR, BAO_TOKEN_FILE and BAO_NAMESPACE', async () => {
    process.env['BAO_ADDR'] = vault.origin;
    process.env['BAO_NAMESPACE'] = 'team-tsa';
    process.env['BAO_TOKEN_FILE'] = dir.write('bao-token', `${TOKEN}\n`);
    const { server, paths } = await serverFor('ec-p256', {}, 'openbao');
    expect(server.signer.id).toBe('openbao:tsa/transit/' + server.signer.id.split('/').at(-1));
    expect(await issueAndVerify(server.app, dir, paths.root)).toContain('Verification: OK');
    expect(vault.requests.at(-1)?.namespace).toBe('team-tsa');
    await server.close();
  });

  it('refuses to start with a key that cannot sign a digest (wrong key type)', async () => {
    vault.createKey('aes-key', 'aes-256');
    await expect(createKmsSigner('hashivault://aes-key', 'sha256')).rejects.toThrow(
      /transit key type aes256-gcm96 cannot sign a digest/,
    );
    vault.createKey('ed-key', 'ed25519');
    await expect(createKmsSigner('hashivault://ed-key', 'sha512')).rejects.toThrow(
      /ed25519 cannot sign a digest/,
    );
  });

  it('VAULT_TOKEN_FILE: a token renewed into the file after start keeps the signer signing', async () => {
    const first = 'hvs.file-token-one-secret';
    const second = 'hvs.file-token-two-secret';
    const tokenFile = dir.write('vault-token', `${first}\n`);
    vault.setToken(first);
    delete process.env['VAULT_TOKEN'];
    process.env['VAULT_TOKEN_FILE'] = tokenFile;
    let server: Awaited<ReturnType<typeof serverFor>>['server'] | undefined;
    try {
      const started = await serverFor('ec-p256');
      server = started.server;
      expect(await issueAndVerify(server.app, dir, started.paths.root)).toContain(
        'Verification: OK',
      );
      // Vault Agent (or a rotated Secret) writes a new token; the old one stops working.
      dir.write('vault-token', `${second}\n`);
      vault.setToken(second);
      const denied = vault.denied();
      for (let i = 0; i < 3; i++) {
        expect(await issueAndVerify(server.app, dir, started.paths.root)).toContain(
          'Verification: OK',
        );
      }
      // One refused call found the new token; the next calls send it at once.
      expect(vault.denied() - denied).toBe(1);
      // A refused token the file does not replace is not retried: the call fails as before.
      vault.setToken('hvs.someone-else');
      const refusedBefore = vault.denied();
      const reply = await requestToken(server.app, dir);
      expect(reply.statusCode).toBe(500);
      expect(vault.denied() - refusedBefore).toBe(1);
    } finally {
      await server?.close();
      vault.setToken(TOKEN);
      delete process.env['VAULT_TOKEN_FILE'];
      process.env['VAULT_TOKEN'] = TOKEN;
    }
  });

  it('warns about a VAULT_TOKEN_FILE others can read, as about a key file', async () => {
    const tokenFile = dir.write('loose-vault-token', `${TOKEN}\n`);
    delete process.env['VAULT_TOKEN'];
    process.env['VAULT_TOKEN_FILE'] = tokenFile;
    vault.createKey('loose', 'ec-p256');
    const warnings: string[] = [];
    const warn = (message: string) => warnings.push(message);
    try {
      chmodSync(tokenFile, 0o644);
      const loose = await createKmsSigner('hashivault://loose', 'auto', undefined, { warn });
      await loose[Symbol.asyncDispose]();
      expect(warnings).toEqual([
        expect.stringContaining(`${tokenFile} is readable by group or others (mode 0644)`),
      ]);
      expect(warnings.join()).not.toContain(TOKEN);
      chmodSync(tokenFile, 0o600);
      const tight = await createKmsSigner('hashivault://loose', 'auto', undefined, { warn });
      await tight[Symbol.asyncDispose]();
      expect(warnings).toHaveLength(1);
      // The server's way in (createSigner, with its logger's warn) shows it too.
      chmodSync(tokenFile, 0o640);
      const paths = await writeChainFor(vault.createKey('served', 'ec-p256').publicKey!, dir);
      const config = resolveServeConfig({
        timestampSigner: 'kms',
        kmsKeyResource: 'hashivault://served',
        certificateChainPath: paths.chain,
      });
      const served = await createSigner(signerConfigFrom(config), { warn });
      await served.signer[Symbol.asyncDispose]();
      expect(warnings).toEqual([
        expect.stringContaining('(mode 0644)'),
        expect.stringContaining(`${tokenFile} is readable by group or others (mode 0640)`),
      ]);
    } finally {
      delete process.env['VAULT_TOKEN_FILE'];
      process.env['VAULT_TOKEN'] = TOKEN;
    }
  });

  it('never puts the token in an error', async () => {
    process.env['VAULT_TOKEN'] = 'hvs.wrong-token-secret';
    vault.createKey('denied', 'ec-p256');
    const failure = (await createKmsSigner('hashivault://denied', 'sha256').then(
      () => new Error('started'),
      (error: unknown) => error,
    )) as Error;
    process.env['VAULT_TOKEN'] = TOKEN;
    expect(failure.message).toMatch(/HTTP 403: permission denied/);
    expect(`${failure.message} ${String(failure.cause)}`).not.toContain('wrong-token-secret');
  });
});
