import { afterAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/config/config-file.js';
import { ConfigError, resolveLayers, resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { checkSignerOptions } from '../../../src/config/signer-config.js';
import { tempDir } from '../../helpers/openssl.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

/** What checkSignerOptions refuses these flags with: [code, message], or undefined. */
function refusal(flags: Partial<Record<ServeOptionName, unknown>>) {
  try {
    checkSignerOptions(resolveServeConfig(flags));
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [error.code, error.message];
  }
}

const CHAIN = { certificateChainPath: '/chain.pem' };

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('checkSignerOptions: what a signer cannot start without, before anything starts', () => {
  it('accepts the memory signer and every complete signer', () => {
    expect(refusal({})).toBeUndefined();
    expect(refusal({ timestampSigner: 'file', fileSignerKeyPath: '/k.pem', ...CHAIN })).toBe(
      undefined,
    );
    expect(refusal({ timestampSigner: 'kms', kmsKeyResource: 'awskms:///alias/k', ...CHAIN })).toBe(
      undefined,
    );
    for (const key of [
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'mrk-1234abcd12ab34cd56ef1234567890ab',
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws:kms:eu-west-1:111122223333:alias/tsa',
    ]) {
      const kmsKeyResource = `awskms:///${key}`;
      expect(refusal({ timestampSigner: 'kms', kmsKeyResource, ...CHAIN })).toBeUndefined();
    }
    expect(refusal({ timestampSigner: 'pkcs11', pkcs11Uri: 'pkcs11:object=k', ...CHAIN })).toBe(
      undefined,
    );
    expect(
      refusal({
        timestampSigner: 'tink',
        tinkKeysetPath: '/k.json',
        tinkKeyResource: 'gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k',
        ...CHAIN,
      }),
    ).toBeUndefined();
  });

  it.each([
    [{ timestampSigner: 'file', ...CHAIN }, '--timestamp-signer file needs --file-signer-key-path'],
    [
      { timestampSigner: 'file', fileSignerKeyPath: '/k.pem' },
      '--timestamp-signer file needs --certificate-chain-path',
    ],
    [{ timestampSigner: 'kms', ...CHAIN }, '--timestamp-signer kms needs --kms-key-resource'],
    [
      {
        timestampSigner: 'kms',
        kmsKeyResource: 'gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k',
      },
      '--timestamp-signer kms needs --certificate-chain-path',
    ],
    [
      { timestampSigner: 'pkcs11', pkcs11Uri: 'pkcs11:object=k' },
      '--timestamp-signer pkcs11 needs --certificate-chain-path',
    ],
    [
      {
        timestampSigner: 'tink',
        tinkKeyResource: 'gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k',
        ...CHAIN,
      },
      '--timestamp-signer tink needs --tink-keyset-path',
    ],
    [
      { timestampSigner: 'tink', tinkKeysetPath: '/k.json', ...CHAIN },
      '--timestamp-signer tink needs --tink-key-resource',
    ],
  ] as const)('refuses a missing option: %o', (flags, message) => {
    expect(refusal(flags)).toEqual(['OPTION_MISSING', message]);
  });

  it.each([
    [
      { timestampSigner: 'kms', kmsKeyResource: 'gcp-kms://k', ...CHAIN },
      'unsupported --kms-key-resource "gcp-kms://k": use awskms://, gcpkms://, azurekms://, hashivault://, openbao://',
    ],
    [
      { timestampSigner: 'kms', kmsKeyResource: 'constructor://k', ...CHAIN },
      'unsupported --kms-key-resource "constructor://k": use awskms://, gcpkms://, azurekms://, hashivault://, openbao://',
    ],
    [
      {
        timestampSigner: 'tink',
        tinkKeysetPath: '/k.json',
        tinkKeyResource: 'gcpkms://k',
        ...CHAIN,
      },
      'unsupported --tink-key-resource "gcpkms://k": use gcp-kms://, aws-kms://, hcvault://',
    ],
  ] as const)('refuses a key URI of no known scheme: %o', (flags, message) => {
    expect(refusal(flags)).toEqual(['INVALID_VALUE', message]);
  });

  it.each([
    ['kms-key-resource', 'awskms://', 'awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)'],
    ['kms-key-resource', 'awskms:///alias/a b', 'awskms://[ENDPOINT]/[ID/ALIAS/ARN]'],
    // A key id is a UUID (sigstore's rule), or a multi-Region key's mrk- and 32 hex digits.
    ['kms-key-resource', 'awskms:///deadbeef', 'awskms://[ENDPOINT]/[ID/ALIAS/ARN]'],
    ['kms-key-resource', 'awskms:///-', 'awskms://[ENDPOINT]/[ID/ALIAS/ARN]'],
    [
      'kms-key-resource',
      'awskms:///arn:aws:kms:eu-west-1:111122223333:key/1',
      'awskms://[ENDPOINT]/[ID/ALIAS/ARN]',
    ],
    ['kms-key-resource', 'hashivault://a/b', 'hashivault://<key> or openbao://<key>'],
    ['kms-key-resource', 'openbao://', 'hashivault://<key> or openbao://<key>'],
    ['kms-key-resource', 'azurekms://h/k/ABC', 'azurekms://[VAULT_NAME][VAULT_URL]/[KEY_NAME]'],
    ['kms-key-resource', 'gcpkms://projects/p', 'gcpkms://projects/[PROJECT]/locations/'],
    ['tink-key-resource', 'aws-kms://alias/k', 'expected aws-kms://arn:<partition>:kms:<region>:'],
    [
      'tink-key-resource',
      'hcvault://vault/k',
      'expected hcvault://host[:port]/{mount}/keys/{name}',
    ],
    ['tink-key-resource', 'gcp-kms://projects/p', 'expected gcp-kms://projects/P/locations/L/'],
  ] as const)('refuses a malformed --%s of a known scheme: %s', (flag, uri, format) => {
    const flags =
      flag === 'kms-key-resource'
        ? { timestampSigner: 'kms', kmsKeyResource: uri, ...CHAIN }
        : { timestampSigner: 'tink', tinkKeysetPath: '/k.json', tinkKeyResource: uri, ...CHAIN };
    const [code, message] = refusal(flags) ?? [];
    expect(code).toBe('INVALID_VALUE');
    expect(message).toMatch(new RegExp(`^invalid --${flag} "${escape(uri)}": .*${escape(format)}`));
  });

  it('refuses a key URI with credentials without quoting it, whatever its shape', () => {
    const SECRET = 'PLANTED_S3CRET_42';
    for (const flags of [
      {
        timestampSigner: 'tink',
        tinkKeyResource: `hcvault://u:${SECRET}@127.0.0.1:8200/transit/keys/k`,
      },
      { timestampSigner: 'tink', tinkKeyResource: `hcvault://u:${SECRET}@127.0.0.1` },
      { timestampSigner: 'kms', kmsKeyResource: `awskms://u:${SECRET}@localhost:4566/alias/k` },
    ]) {
      const [code, message] = refusal({ ...flags, tinkKeysetPath: '/keyset.json', ...CHAIN }) ?? [];
      expect(code).toBe('INVALID_VALUE');
      expect(message).toMatch(/^--(tink|kms)-key-resource holds credentials \(user:password@\)/);
      expect(message).not.toContain(SECRET);
    }
  });

  /** Each key URI scheme naming a host its client calls as https://HOST, with its options. */
  const ENDPOINT_URIS = [
    [
      'the endpoint',
      (host: string, key: string) => ({
        timestampSigner: 'kms',
        kmsKeyResource: `awskms://${host}/${key === 'good' ? 'alias/k' : 'alias/a b'}`,
        ...CHAIN,
      }),
    ],
    [
      'the vault host',
      (host: string, key: string) => ({
        timestampSigner: 'kms',
        kmsKeyResource: `azurekms://${host}/${key === 'good' ? 'k' : 'a b'}`,
        ...CHAIN,
      }),
    ],
    [
      'the Vault host',
      (host: string, key: string) => ({
        timestampSigner: 'tink',
        tinkKeysetPath: '/k.json',
        tinkKeyResource: `hcvault://${host}/${key === 'good' ? 'transit/keys/k' : 'transit'}`,
        ...CHAIN,
      }),
    ],
  ] as const;

  it.each(ENDPOINT_URIS)(
    'refuses %s of a key URI that is no host[:port] as a service URL is, never quoting it',
    (called, options) => {
      // The host reached the client as https://HOST unchecked: a query or a fragment was dropped
      // silently, an address that does not parse failed at the first call ("Invalid URL").
      const SECRET = 'PLANTED_S3CRET_42';
      for (const [endpoint, problem] of [
        [`127.0.0.1:9?token=${SECRET}`, 'must not have a query or a fragment'],
        [`127.0.0.1:9#${SECRET}`, 'must not have a query or a fragment'],
        [`ht tp${SECRET}`, 'is not a URL such as'],
        [`[${SECRET}`, 'is not a URL such as'],
        [`127.0.0.1:99999${SECRET}`, 'is not a URL such as'],
      ]) {
        // Also before the shape (a malformed key), whose error quotes the URI.
        for (const key of ['good', 'malformed']) {
          const [code, message] = refusal(options(endpoint!, key)) ?? [];
          expect(code).toBe('INVALID_VALUE');
          expect(message).toMatch(
            new RegExp(`^${called} of --[a-z-]+-key-resource ${escape(problem!)}`),
          );
          expect(message).not.toContain(SECRET);
        }
      }
    },
  );

  it.each(ENDPOINT_URIS)('accepts %s of a key URI as host[:port] (https to it)', (_, options) => {
    for (const endpoint of [
      'localhost:4566',
      '127.0.0.1:4566',
      '[::1]:4566',
      'vpce-0123.kms.eu-west-1.vpce.amazonaws.com',
    ]) {
      expect(refusal(options(endpoint, 'good'))).toBeUndefined();
    }
  });

  it('checks the key URI of each profile, naming the profile', () => {
    const path = dir.write(
      'kms-profiles.yaml',
      [
        'profiles:',
        '  - name: vault',
        '    policy-oids: [1.2.3.4.101]',
        '    timestamp-signer: kms',
        '    kms-key-resource: hashivault://transit/k',
        '    certificate-chain-path: /chain.pem',
        '',
      ].join('\n'),
    );
    const config = resolveLayers([readConfigFile(path)]).config;
    expect(() => checkSignerOptions(config)).toThrow(
      `config file ${path}: profile "vault": invalid kms-key-resource "hashivault://transit/k": kms specification should be in the format hashivault://<key> or openbao://<key>`,
    );
  });

  it('refuses a secret given both inline and as a file, without showing it', () => {
    const file = refusal({
      timestampSigner: 'file',
      fileSignerKeyPath: '/k.pem',
      fileSignerPasswd: 'hunter2',
      fileSignerPasswdFile: '/run/secrets/pw',
      ...CHAIN,
    });
    expect(file).toEqual([
      'CONFLICTING_OPTIONS',
      'set only one of --file-signer-passwd and --file-signer-passwd-file',
    ]);
    const tink = refusal({
      timestampSigner: 'tink',
      tinkKeysetPath: '/k.json',
      tinkKeyResource: 'hcvault://vault/transit/keys/k',
      tinkHcvaultToken: 's.hunter2',
      tinkHcvaultTokenFile: '/run/secrets/token',
      ...CHAIN,
    });
    expect(tink?.[1]).toBe('set only one of --tink-hcvault-token and --tink-hcvault-token-file');
    expect(JSON.stringify([file, tink])).not.toContain('hunter2');
  });

  it("checks each profile's signer, naming the profile", () => {
    const path = dir.write(
      'profiles.yaml',
      [
        'profiles:',
        '  - name: rsa',
        '    policy-oids: [1.2.3.4.100]',
        '    timestamp-signer: file',
        '    file-signer-key-path: /keys/rsa.pem',
        '',
      ].join('\n'),
    );
    const config = resolveLayers([readConfigFile(path)]).config;
    expect(() => checkSignerOptions(config)).toThrow(
      `config file ${path}: profile "rsa": timestamp-signer file needs certificate-chain-path`,
    );
  });
});

describe('top-level signer options that the signer does not use', () => {
  /** The warnings of a configuration from these flags. */
  const warnings = (flags: Partial<Record<ServeOptionName, unknown>>) =>
    resolveLayers([{ source: 'flags', values: flags }]).warnings;

  it('are accepted, as the Go server does, with one warning naming them (never their values)', () => {
    expect(
      warnings({ fileSignerKeyPath: '/k.pem', fileSignerPasswd: 'hunter2', ...CHAIN }),
    ).toEqual([
      '--file-signer-passwd on the command line is visible to every user of this machine in the process list; give it with --file-signer-passwd-file or FILE_SIGNER_PASSWD instead',
      '--certificate-chain-path, --file-signer-key-path, --file-signer-passwd are ignored: ' +
        '--timestamp-signer memory does not use them',
    ]);
    expect(
      warnings({
        timestampSigner: 'file',
        fileSignerKeyPath: '/k.pem',
        ...CHAIN,
        kmsKeyResource: 'awskms:///alias/a',
        kmsTimeout: '2s',
      }),
    ).toEqual([
      '--kms-key-resource, --kms-timeout are ignored: --timestamp-signer file does not use them',
    ]);
    expect(
      warnings({ timestampSigner: 'kms', kmsBreakerCooldown: '1s', pkcs11Timeout: '1s' }),
    ).toEqual(['--pkcs11-timeout is ignored: --timestamp-signer kms does not use it']);
  });

  it("warn about none of a signer's own options, nor of one set to its default", () => {
    expect(warnings({})).toEqual([]);
    expect(
      warnings({
        timestampSigner: 'tink',
        tinkKeysetPath: '/k.json',
        tinkKeyResource: 'gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k',
        kmsTimeout: '2s',
        ...CHAIN,
      }),
    ).toEqual([]);
    expect(
      warnings({
        timestampSigner: 'pkcs11',
        pkcs11Uri: 'pkcs11:token=a',
        kmsBreakerThreshold: '2',
      }),
    ).toEqual([]);
    // --print-config writes every option, those of other signers at their defaults.
    expect(warnings({ kmsTimeout: '5s', fileSignerKeyPath: '', certificateChainPath: '' })).toEqual(
      [],
    );
  });

  it('--pkcs11-timeout is used by a pkcs11: --ledger-key, whatever the signer', () => {
    const ledger = { ledgerUrl: 'postgres://db/tsa', ledgerOrigin: 'tsa.example/log' };
    expect(warnings({ ...ledger, ledgerKey: 'pkcs11:token=log', pkcs11Timeout: '2s' })).toEqual([]);
    expect(warnings({ ...ledger, ledgerKey: '/log-key.pem', pkcs11Timeout: '2s' })).toEqual([
      '--pkcs11-timeout is ignored: --timestamp-signer memory does not use it',
    ]);
  });
});

describe('--kms-max-retries', () => {
  it('takes 0 to 10: from the 10th retry on, one backoff alone outlasts any sensible --kms-timeout', () => {
    expect(resolveServeConfig({ kmsMaxRetries: '0' }).kmsMaxRetries).toBe(0);
    expect(resolveServeConfig({ kmsMaxRetries: '10' }).kmsMaxRetries).toBe(10);
    expect(() => resolveServeConfig({ kmsMaxRetries: '11' })).toThrow(
      'invalid value for --kms-max-retries: "11" (at most 10)',
    );
    expect(() => resolveServeConfig({ kmsMaxRetries: '-1' })).toThrow(ConfigError);
  });
});
