import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  vaultConnectionFromEnv,
  vaultRequest,
  type VaultConnection,
} from '../../../../src/signers/kms/vault-client.js';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { listen } from '../../../fakes/http-server.js';
import { selfSignedTls } from '../../../fakes/tls.js';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import { restoreEnvAfterEach } from '../../../helpers/env.js';
import { tempDir } from '../../../helpers/openssl.js';

const SECRET = 'hvs.CAESIJ-secret-token-marker';
const dir = tempDir();
restoreEnvAfterEach(['HOME', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_TOKEN_FILE']);
afterAll(() => dir.cleanup());

/** What vaultConnectionFromEnv throws for `env`, with HOME at `home` (~/.vault-token's place). */
function refusal(env: NodeJS.ProcessEnv, home = dir.path('no-home')): Error {
  process.env['HOME'] = home;
  try {
    vaultConnectionFromEnv('VAULT', { VAULT_ADDR: 'http://127.0.0.1:8200', ...env });
  } catch (error) {
    return error as Error;
  }
  throw new Error('vaultConnectionFromEnv accepted the token');
}

describe('Vault token sources', () => {
  it('refuses a token file with a second line, naming the file, never the token', () => {
    const file = dir.write('two-lines', `${SECRET}\n# rotated 2026-01-01\n`);
    const error = refusal({ VAULT_TOKEN_FILE: file });
    expect(error).toMatchObject({ name: 'VaultError', code: 'BAD_TOKEN' });
    expect(error.message).toBe(
      `VAULT_TOKEN_FILE ${file} does not hold a single Vault token: it has a space, a line break or a character no token has`,
    );
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses VAULT_TOKEN and BAO_TOKEN with a CR/LF or a space inside, naming the variable', () => {
    for (const token of [`${SECRET}\r\nx`, `${SECRET} x`, `${SECRET}\u0000`]) {
      const error = refusal({ VAULT_TOKEN: token });
      expect(error).toMatchObject({ code: 'BAD_TOKEN' });
      expect(error.message).toMatch(/^VAULT_TOKEN does not hold a single Vault token/);
      expect(error.message).not.toContain(SECRET);
    }
    process.env['HOME'] = dir.path('no-home');
    expect(() =>
      vaultConnectionFromEnv('BAO', {
        BAO_ADDR: 'http://127.0.0.1:8200',
        BAO_TOKEN: `${SECRET}\n`,
      }),
    ).toThrow(/^BAO_TOKEN does not hold a single Vault token/);
  });

  it('refuses a malformed ~/.vault-token, naming it', () => {
    const home = homeWith(`${SECRET}\nsecond line\n`);
    const error = refusal({}, home);
    expect(error.message).toBe(
      `${home}/.vault-token does not hold a single Vault token: it has a space, a line break or a character no token has`,
    );
  });

  it('an empty VAULT_TOKEN_FILE is an error naming it, not a switch to ~/.vault-token', () => {
    const home = homeWith('hvs.personal-token\n');
    const empty = dir.write('empty-token', '\n');
    const error = refusal({ VAULT_TOKEN_FILE: empty }, home);
    expect(error).toMatchObject({
      code: 'NO_TOKEN',
      message: `VAULT_TOKEN_FILE ${empty} is empty`,
    });
    const missing = dir.path('missing-token');
    expect(refusal({ VAULT_TOKEN_FILE: missing }, home)).toMatchObject({
      code: 'NO_TOKEN',
      message: `VAULT_TOKEN_FILE ${missing}: cannot read it (ENOENT)`,
    });
  });

  it('without VAULT_TOKEN or VAULT_TOKEN_FILE reads ~/.vault-token, and re-reads that file', () => {
    const home = homeWith('hvs.personal-token\n');
    process.env['HOME'] = home;
    expect(vaultConnectionFromEnv('VAULT', { VAULT_ADDR: 'http://127.0.0.1:8200/' })).toEqual({
      address: 'http://127.0.0.1:8200',
      token: 'hvs.personal-token',
      tokenFile: `${home}/.vault-token`,
    });
    expect(refusal({}, dir.path('no-home'))).toMatchObject({
      code: 'NO_TOKEN',
      message: 'no Vault token: set VAULT_TOKEN or VAULT_TOKEN_FILE',
    });
  });

  it('a start-up error never carries a malformed token (fetch would quote it)', async () => {
    process.env['HOME'] = dir.path('no-home');
    process.env['VAULT_ADDR'] = 'http://127.0.0.1:9';
    delete process.env['VAULT_TOKEN'];
    process.env['VAULT_TOKEN_FILE'] = dir.write('startup-token', `${SECRET}\nsecond line\n`);
    const error = (await createKmsSigner('hashivault://tsa-key', 'auto').then(
      () => new Error('started'),
      (caught: unknown) => caught,
    )) as Error;
    expect(error).toMatchObject({ code: 'BAD_TOKEN' });
    expect(`${error.message} ${String(error.cause)} ${error.stack}`).not.toContain(SECRET);
  });
});

describe('vaultRequest: the token file re-read after a 403', () => {
  let vault: Awaited<ReturnType<typeof startFakeVault>>;
  beforeAll(async () => {
    vault = await startFakeVault({ token: 'hvs.current' });
    vault.createKey('k', 'ec-p256');
  });
  afterAll(async () => {
    await vault.close();
  });

  const connectionWith = (tokenFile: string): VaultConnection => ({
    address: vault.origin,
    token: 'hvs.expired',
    tokenFile,
  });

  it('a file emptied (or given a second line) leaves the 403, saying what is wrong with the file', async () => {
    const file = dir.write('reread-token', '');
    const home = homeWith('hvs.personal-token\n');
    process.env['HOME'] = home;
    await expect(
      vaultRequest(connectionWith(file), 'GET', 'transit/keys/k', undefined),
    ).rejects.toThrow(
      `Vault GET /v1/transit/keys/k failed with HTTP 403: permission denied (re-reading ${file}: it is empty)`,
    );
    dir.write('reread-token', `${SECRET}\nsecond line`);
    const error = (await vaultRequest(
      connectionWith(file),
      'GET',
      'transit/keys/k',
      undefined,
    ).then(
      () => new Error('answered'),
      (caught: unknown) => caught,
    )) as Error;
    expect(error).toMatchObject({ code: 'HTTP_ERROR', status: 403 });
    expect(error.message).toContain('it does not hold a single Vault token');
    expect(error.message).not.toContain(SECRET);
  });

  it('a file that holds the new token retries once with it and keeps it', async () => {
    const file = dir.write('renewed-token', 'hvs.current\n');
    const connection = connectionWith(file);
    await expect(vaultRequest(connection, 'GET', 'transit/keys/k', undefined)).resolves.toEqual(
      expect.objectContaining({ type: 'ecdsa-p256' }),
    );
    expect(connection.token).toBe('hvs.current');
  });

  it('a malformed token in a connection is never sent (no source checked it)', async () => {
    const denied = vault.denied();
    await expect(
      vaultRequest(
        { address: vault.origin, token: `${SECRET}\r\nx` },
        'GET',
        'transit/keys/k',
        undefined,
      ),
    ).rejects.toMatchObject({
      code: 'BAD_TOKEN',
      message: 'the Vault token is malformed; it was not sent',
    });
    expect(vault.denied()).toBe(denied);
  });
});

describe('vaultRequest: redirects, as Vault’s own client follows them', () => {
  let vault: Awaited<ReturnType<typeof startFakeVault>>;
  /** Tokens seen by a server that must never get one. */
  const leaked: string[] = [];
  let elsewhere: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    vault = await startFakeVault({ token: 'hvs.current' });
    vault.createKey('k', 'ec-p256');
    elsewhere = await listen((request, _body, response) => {
      leaked.push(String(request.headers['x-vault-token']));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}');
    });
  });
  afterAll(async () => {
    await Promise.all([vault.close(), elsewhere.close()]);
  });

  /** A node answering every call with `status` to `location` + the path (a standby, say). */
  const redirector = (status: number, location: string, tls?: { key: string; cert: string }) =>
    listen((request, _body, response) => {
      response.writeHead(status, { location: `${location}${request.url ?? ''}` }).end();
    }, tls);
  const call = (address: string, dispatcher?: Agent) =>
    vaultRequest(
      { address, token: 'hvs.current', ...(dispatcher ? { dispatcher } : {}) },
      'GET',
      'transit/keys/k',
      undefined,
    );

  it('follows a 307 or 308 to the node it names (a standby names the active node)', async () => {
    for (const status of [307, 308]) {
      const standby = await redirector(status, vault.origin);
      try {
        await expect(call(standby.origin)).resolves.toEqual(
          expect.objectContaining({ type: 'ecdsa-p256' }),
        );
      } finally {
        await standby.close();
      }
    }
  });

  it('answers a 301, 302 or 303 as the error it is, never sending the token on', async () => {
    for (const status of [301, 302, 303]) {
      const moved = await redirector(status, elsewhere.origin);
      try {
        await expect(call(moved.origin)).rejects.toMatchObject({
          code: 'HTTP_ERROR',
          message: `Vault GET /v1/transit/keys/k failed with HTTP ${status}`,
        });
      } finally {
        await moved.close();
      }
    }
    expect(leaked).toEqual([]);
  });

  it('never follows a redirect from https to http, where the token would travel in the clear', async () => {
    const tls = selfSignedTls();
    const downgrade = await redirector(307, elsewhere.origin, tls);
    const dispatcher = new Agent({ connect: { ca: tls.cert } });
    try {
      await expect(call(downgrade.origin, dispatcher)).rejects.toMatchObject({
        code: 'HTTP_ERROR',
        message:
          'Vault GET /v1/transit/keys/k: redirected from https to http: refused, the token would travel in the clear',
      });
      expect(leaked).toEqual([]);
    } finally {
      await dispatcher.close();
      await downgrade.close();
    }
  });

  it('gives up after 3 redirects', async () => {
    const loop = await listen((request, _body, response) => {
      response.writeHead(307, { location: request.url ?? '/' }).end();
    });
    try {
      await expect(call(loop.origin)).rejects.toMatchObject({
        code: 'HTTP_ERROR',
        message: 'Vault GET /v1/transit/keys/k: more than 3 redirects',
      });
    } finally {
      await loop.close();
    }
  });
});

/** A HOME whose ~/.vault-token holds `token` (someone's personal token). */
function homeWith(token: string): string {
  const home = dir.path(`home-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(home);
  writeFileSync(`${home}/.vault-token`, token);
  return home;
}
