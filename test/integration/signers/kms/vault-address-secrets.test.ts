import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultConnectionFromEnv, vaultRequest } from '../../../../src/signers/kms/vault-client.js';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { classifyServiceError } from '../../../../src/signers/kms/failure-reason.js';
import { openKek } from '../../../../src/signers/tink/open-kek.js';
import { createTinkSigner } from '../../../../src/signers/tink/tink-signer.js';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import { restoreEnvAfterEach } from '../../../helpers/env.js';
import { failureOf, shownError } from '../../../helpers/errors.js';

/**
 * A Vault address with credentials (`http://user:password@host`) or one that does not parse was
 * echoed by fetch's error ("Request cannot be constructed from a URL that includes credentials:
 * http://u:…@…", "Failed to parse URL from …") up to the start-up's FATAL line. Every source of an
 * address is refused up front without being quoted, and the call wrapper never quotes the URL.
 */
const SECRET = 'PLANTED_S3CRET_42';
const TOKEN = 'hvs.vault-address-test-token';
restoreEnvAfterEach([
  'HOME',
  'VAULT_ADDR',
  'VAULT_TOKEN',
  'VAULT_TOKEN_FILE',
  'BAO_ADDR',
  'BAO_TOKEN',
  'TINK_HCVAULT_ADDR',
]);

let vault: Awaited<ReturnType<typeof startFakeVault>>;
let hostPort: string;
beforeAll(async () => {
  vault = await startFakeVault({ token: TOKEN });
  vault.createKey('k', 'ec-p256');
  hostPort = new URL(vault.origin).host;
});
afterAll(async () => {
  await vault.close();
});

const withCredentials = () => `http://u:${SECRET}@${hostPort}`;
const unparsable = `http://[${SECRET}`;

describe('VAULT_ADDR and BAO_ADDR', () => {
  it.each([
    ['VAULT', 'hashivault'],
    ['BAO', 'openbao'],
  ] as const)(
    '%s_ADDR with credentials, a query or no URL shape: refused, never quoted',
    async (prefix, scheme) => {
      process.env['HOME'] = '/nonexistent';
      process.env[`${prefix}_TOKEN`] = TOKEN;
      const cases: [string, string][] = [
        [withCredentials(), `${prefix}_ADDR must not hold credentials (user:password@)`],
        [unparsable, `${prefix}_ADDR is not a URL such as https://vault.example:8200`],
        [
          `http://${hostPort}/?token=${SECRET}`,
          `${prefix}_ADDR must not have a query or a fragment`,
        ],
      ];
      for (const [address, message] of cases) {
        process.env[`${prefix}_ADDR`] = address;
        expect(() => vaultConnectionFromEnv(prefix)).toThrow(message);
        const error = await failureOf(() => createKmsSigner(`${scheme}://k`, 'auto'));
        expect(error.message).toContain(message);
        expect(shownError(error)).not.toContain(SECRET);
      }
    },
  );

  it('a plain address still serves (trailing slash dropped)', () => {
    expect(
      vaultConnectionFromEnv('VAULT', { VAULT_ADDR: `${vault.origin}/`, VAULT_TOKEN: TOKEN }),
    ).toEqual({ address: vault.origin, token: TOKEN });
  });
});

describe('vaultRequest: a failed request', () => {
  it.each([
    ['credentials in the address', withCredentials(), 'TypeError'],
    ['an unparsable address', unparsable, 'ERR_INVALID_URL'],
  ])('%s: the call and a code, never the URL', async (_what, address, code) => {
    const error = await failureOf(() =>
      vaultRequest({ address, token: TOKEN }, 'GET', 'transit/keys/k', undefined),
    );
    expect(error.message).toBe(`Vault GET /v1/transit/keys/k: request failed (${code})`);
    expect(shownError(error)).not.toContain(SECRET);
  });

  it('a refused connection keeps its code for the failure metrics', async () => {
    // A port just closed (fetch refuses port 9 itself, with no code).
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((closed) => server.close(closed));
    const error = await failureOf(() =>
      vaultRequest(
        { address: `http://127.0.0.1:${port}`, token: TOKEN },
        'GET',
        'transit/keys/k',
        undefined,
      ),
    );
    expect(error.message).toBe('Vault GET /v1/transit/keys/k: request failed (ECONNREFUSED)');
    expect(classifyServiceError(error)).toBe('connection');
  });
});

describe('the hcvault:// Tink KEK', () => {
  const kekUri = (host: string) => `hcvault://${host}/transit/keys/k`;
  const decryptWith = async (uri: string) => {
    const kek = await openKek(uri, { vaultToken: TOKEN });
    return kek.decrypt(new Uint8Array([1]), new Uint8Array(0));
  };

  it('credentials in the URI host: refused, the URI never quoted', async () => {
    delete process.env['TINK_HCVAULT_ADDR'];
    const error = await failureOf(() => decryptWith(kekUri(`u:${SECRET}@${hostPort}`)));
    expect(error.message).toBe(
      'the host of the hcvault:// Tink KEK URI must not hold credentials (user:password@); authenticate with a Vault token',
    );
    expect(shownError(error)).not.toContain(SECRET);
    // Also when TINK_HCVAULT_ADDR would replace the host.
    process.env['TINK_HCVAULT_ADDR'] = vault.origin;
    expect(
      shownError(await failureOf(() => decryptWith(kekUri(`u:${SECRET}@${hostPort}`)))),
    ).not.toContain(SECRET);
  });

  it('a malformed URI with credentials is quoted masked', async () => {
    const error = await failureOf(() => decryptWith(`hcvault://u:${SECRET}@${hostPort}/transit/k`));
    expect(error.message).toBe(
      `invalid Tink KEK URI hcvault://********@${hostPort}/transit/k: expected hcvault://host[:port]/{mount}/keys/{name}`,
    );
    expect(shownError(error)).not.toContain(SECRET);
  });

  it.each([
    ['credentials', withCredentials, 'TINK_HCVAULT_ADDR must not hold credentials'],
    ['no URL shape', () => unparsable, 'TINK_HCVAULT_ADDR is not a URL'],
  ])('TINK_HCVAULT_ADDR with %s: refused, never quoted', async (_what, address, message) => {
    process.env['TINK_HCVAULT_ADDR'] = address();
    const error = await failureOf(() => decryptWith(kekUri(hostPort)));
    expect(error.message).toContain(message);
    expect(shownError(error)).not.toContain(SECRET);
  });

  it('the deadline of opening the KEK quotes its URI masked', async () => {
    const keysetPath = resolve(
      import.meta.dirname,
      '../../../fixtures/tink/generated/tink-java-1.18.0/java_ecdsa_p256.json',
    );
    const uri = kekUri(`u:${SECRET}@${hostPort}`);
    // A KEK that never opens: the deadline is what ends it, whatever its length.
    const error = await failureOf(() =>
      createTinkSigner({
        keysetPath,
        kekUri: uri,
        vaultToken: '',
        hash: 'auto',
        openKek: () => new Promise(() => undefined),
        timeoutMs: 1,
      }),
    );
    expect(error.message).toContain(
      `the KEK hcvault://********@${hostPort}/transit/keys/k did not answer`,
    );
    expect(shownError(error)).not.toContain(SECRET);
  });
});
