import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecret } from '../../../src/config/read-secret.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { SERVE_OPTIONS, SIGNER_TYPES, type ServeOptionName } from '../../../src/config/schema.js';
import { checkSignerOptions, signerConfigFrom } from '../../../src/config/signer-config.js';
import { createSigner } from '../../../src/signers/create-signer.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { OpensslPki } from '../../helpers/openssl-pki.js';

const SECRET = 'inline-Secret-Marker';
/** The signer's slice of the configuration these flags give. */
const signerConfig = (flags: Partial<Record<ServeOptionName, unknown>>) =>
  signerConfigFrom(resolveServeConfig(flags));
const work = tempDir();
const pki = new OpensslPki(work.dir);
let chain: string;
let encryptedKey: string;

beforeAll(async () => {
  chain = await pki.standardChain();
  encryptedKey = work.path('encrypted.key');
  await openssl([
    'pkcs8',
    '-topk8',
    '-in',
    pki.path('leaf.key'),
    '-v2',
    'aes-256-cbc',
    '-passout',
    `pass:${SECRET}`,
    '-out',
    encryptedKey,
  ]);
  chmodSync(encryptedKey, 0o600);
});
afterAll(() => work.cleanup());

describe('secrets given inline or as a file', () => {
  it('reads a file and drops one trailing newline only', async () => {
    expect(await readSecret('', work.write('a', 'pass\n'), 'x')).toBe('pass');
    expect(await readSecret('', work.write('b', 'pass\r\n'), 'x')).toBe('pass');
    expect(await readSecret('', work.write('c', 'pass\n\n'), 'x')).toBe('pass\n');
    expect(await readSecret('inline', '', 'x')).toBe('inline');
  });

  it('refuses both at once, and names a missing file without any value', async () => {
    await expect(
      readSecret(SECRET, work.write('d', 'other'), 'file-signer-passwd'),
    ).rejects.toThrow('set only one of --file-signer-passwd and --file-signer-passwd-file');
    await expect(readSecret('', work.path('missing'), 'tink-hcvault-token')).rejects.toThrow(
      'reading --tink-hcvault-token-file (the file it names): ENOENT',
    );
  });

  it('refuses an empty file (or one of a newline only), naming the flag: it is no secret', async () => {
    for (const content of ['', '\n', '\r\n'])
      await expect(
        readSecret('', work.write('empty', content), 'tink-hcvault-token'),
      ).rejects.toMatchObject({
        code: 'SECRET_UNREADABLE',
        message:
          'reading --tink-hcvault-token-file (the file it names): it is empty: write the secret in it, or leave --tink-hcvault-token-file out',
      });
  });

  it('an empty --tink-hcvault-token-file stops the Tink signer before any KEK is opened, VAULT_TOKEN set or not', async () => {
    const saved = process.env['VAULT_TOKEN'];
    process.env['VAULT_TOKEN'] = 'hvs.another-credential';
    const opened: unknown[] = [];
    try {
      await expect(
        createSigner(
          signerConfig({
            timestampSigner: 'tink',
            tinkKeysetPath: work.write('keyset.json', '{"encryptedKeyset":"Y3Q="}'),
            tinkKeyResource: 'hcvault://vault.example/transit/keys/k',
            tinkHcvaultTokenFile: work.write('empty-token', ''),
            certificateChainPath: chain,
          }),
          {
            openKek: (uri, options) => {
              opened.push(options);
              return Promise.reject(new Error(`opened ${uri}`));
            },
          },
        ),
      ).rejects.toThrow('reading --tink-hcvault-token-file (the file it names): it is empty');
      expect(opened).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env['VAULT_TOKEN'];
      else process.env['VAULT_TOKEN'] = saved;
    }
  });

  it('marks the password and the Vault token secret in the schema', () => {
    expect(SERVE_OPTIONS.fileSignerPasswd.secret).toBe(true);
    expect(SERVE_OPTIONS.tinkHcvaultToken.secret).toBe(true);
  });
});

describe('createSigner: file and tink', () => {
  it('knows the file and tink signer types', () => {
    expect(SIGNER_TYPES).toEqual(expect.arrayContaining(['memory', 'file', 'tink']));
  });

  it('uses an inline --file-signer-passwd (as Go) and warns of a password file readable by others', async () => {
    const inline = await createSigner(
      signerConfig({
        timestampSigner: 'file',
        fileSignerKeyPath: encryptedKey,
        fileSignerPasswd: SECRET,
        certificateChainPath: chain,
      }),
    );
    expect(inline.chain).toHaveLength(3);
    const loose = work.write('loose-password', SECRET);
    chmodSync(loose, 0o644);
    const warnings: string[] = [];
    await createSigner(
      signerConfig({
        timestampSigner: 'file',
        fileSignerKeyPath: encryptedKey,
        fileSignerPasswdFile: loose,
        certificateChainPath: chain,
      }),
      { warn: (message) => warnings.push(message) },
    );
    expect(warnings).toEqual([expect.stringContaining(`${loose} is readable by group or others`)]);
    expect(warnings.join()).not.toContain(SECRET);
  });

  it('needs a key path, a chain path, and (for tink) a keyset and a KEK URI', async () => {
    const key = pki.path('leaf.key');
    await expect(
      createSigner(signerConfig({ timestampSigner: 'file', certificateChainPath: chain })),
    ).rejects.toThrow('file: --file-signer-key-path is required with --timestamp-signer=file');
    await expect(
      createSigner(signerConfig({ timestampSigner: 'file', fileSignerKeyPath: key })),
    ).rejects.toThrow('--certificate-chain-path is required with this signer');
    const notPem = work.write('not-a-chain.pem', 'hello');
    await expect(
      createSigner(
        signerConfig({
          timestampSigner: 'file',
          fileSignerKeyPath: key,
          certificateChainPath: notPem,
        }),
      ),
    ).rejects.toThrow(`reading certificate chain ${notPem}: no certificates found in PEM`);
    await expect(
      createSigner(signerConfig({ timestampSigner: 'tink', tinkKeyResource: 'gcp-kms://x' })),
    ).rejects.toThrow('tink: --tink-keyset-path is required with --timestamp-signer=tink');
    await expect(
      createSigner(signerConfig({ timestampSigner: 'tink', tinkKeysetPath: 'k.json' })),
    ).rejects.toThrow('tink: --tink-key-resource is required with --timestamp-signer=tink');
  });
});

describe('createSigner: pkcs11', () => {
  it('needs --pkcs11-uri, bounds --pkcs11-max-sessions and --pkcs11-timeout, and masks the URI (it may hold a PIN)', () => {
    expect(() => checkSignerOptions(resolveServeConfig({ timestampSigner: 'pkcs11' }))).toThrow(
      '--timestamp-signer pkcs11 needs --pkcs11-uri',
    );
    expect(() =>
      resolveServeConfig({
        timestampSigner: 'pkcs11',
        pkcs11Uri: 'pkcs11:object=k',
        pkcs11MaxSessions: 0,
      }),
    ).toThrow('--pkcs11-max-sessions');
    expect(() =>
      resolveServeConfig({
        timestampSigner: 'pkcs11',
        pkcs11Uri: 'pkcs11:object=k',
        pkcs11Timeout: '0s',
      }),
    ).toThrow('--pkcs11-timeout');
    expect(SERVE_OPTIONS.pkcs11Uri.secret).toBe(true);
    expect(
      signerConfig({
        timestampSigner: 'pkcs11',
        pkcs11Uri: 'pkcs11:object=k?module-path=/m.so',
        certificateChainPath: 'chain.pem',
        pkcs11MaxSessions: 3,
        pkcs11Timeout: '800ms',
        kmsBreakerThreshold: 2,
      }),
    ).toEqual({
      kind: 'pkcs11',
      hash: 'auto',
      uri: 'pkcs11:object=k?module-path=/m.so',
      certificateChainPath: 'chain.pem',
      maxSessions: 3,
      timeoutMs: 800,
      breakerThreshold: 2,
      breakerCooldownMs: 10_000,
    });
  });
});
