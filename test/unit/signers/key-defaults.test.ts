import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { certificatesCommand } from '../../../src/cli/timestamp-cli/certificates-command.js';
import { loadServeConfig } from '../../../src/config/load.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import { openKeyReference } from '../../../src/signers/key-reference.js';
import { tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';

const dir = tempDir();
const pki = new OpensslPki(dir.dir);
afterAll(() => dir.cleanup());

/** `timestamp-cli certificates create` in process; its stdout and stderr. */
async function createChain(prefix: string, args: string[]) {
  const out = { stdout: '', stderr: '' };
  const command = certificatesCommand(() => ({ format: 'default' }), {
    stdout: (text) => (out.stdout += text),
    stderr: (text) => (out.stderr += text),
  });
  await command.parseAsync(
    [
      'create',
      '--root-key',
      dir.path(`${prefix}-root.key`),
      '--intermediate-key',
      dir.path(`${prefix}-intermediate.key`),
      '--leaf-key',
      dir.path(`${prefix}-leaf.key`),
      '--output',
      dir.path(`${prefix}-chain.pem`),
      ...args,
    ],
    { from: 'user' },
  );
  return { ...out, key: dir.path(`${prefix}-leaf.key`), chain: dir.path(`${prefix}-chain.pem`) };
}

/** createAuthority with a logger whose warnings are kept. */
async function startCapturing(flags: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  const tsa = await createAuthority(resolveServeConfig(flags), logger);
  const warnings = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  return { tsa, warnings };
}

describe('the token digest follows the key unless --timestamp-signer-hash is set', () => {
  it('a P-384 chain made by our chain maker is served with SHA-384; an explicit sha256 wins', async () => {
    const made = await createChain('p384', ['--generate-keys', 'ecdsa-p384']);
    const flags = {
      timestampSigner: 'file',
      fileSignerKeyPath: made.key,
      certificateChainPath: made.chain,
    };
    const { tsa, warnings } = await startCapturing(flags);
    expect(tsa.signer.algorithm.hash).toBe('sha384');
    expect(warnings).toEqual([]);
    const explicit = await startCapturing({ ...flags, timestampSignerHash: 'sha256' });
    expect(explicit.tsa.signer.algorithm.hash).toBe('sha256');
    // CSBR 6.1.5: the certificate was signed with SHA-384, the tokens would be SHA-256.
    expect(explicit.warnings).toEqual([
      expect.stringMatching(
        /^the token digest SHA256 differs from the SHA384 that signed the TSA certificate; .*CSBR 6\.1\.5.*--timestamp-signer-hash=sha384/,
      ),
    ]);
  });

  it.each([
    ['ecdsa-p256', 'sha256'],
    ['ecdsa-p521', 'sha512'],
    ['ed25519', 'sha512'],
    ['rsa-2048', 'sha256'],
  ] as const)('%s keys default to %s', async (type, hash) => {
    const signer = await openKeyReference(dir.path(`${type}.key`), 'auto', { generate: type });
    expect(signer.algorithm.hash).toBe(hash);
  });

  it('the config layer tells the default (auto) from a value set by flag, environment or file', () => {
    expect(loadServeConfig({ flags: {}, env: {}, searchDirs: [] }).config.timestampSignerHash).toBe(
      'auto',
    );
    const env = { TIMESTAMP_SIGNER_HASH: 'sha256' };
    expect(loadServeConfig({ flags: {}, env, searchDirs: [] }).config.timestampSignerHash).toBe(
      'sha256',
    );
    const file = dir.write('timestamp-server.yaml', 'timestamp-signer-hash: sha512\n');
    expect(
      loadServeConfig({ flags: {}, env: {}, configPath: file, searchDirs: [] }).config
        .timestampSignerHash,
    ).toBe('sha512');
  });
});

describe('CA/Browser Forum code-signing key sizes (CSBR 6.1.5)', () => {
  it('warns at start-up about an RSA TSA key below 3072 bits, and starts', async () => {
    await pki.key('csbr-root');
    await pki.cert('csbr-root', { subject: '/O=test/CN=CSBR Root', ext: EXT.root });
    await pki.key('csbr-leaf', 'RSA-2048');
    await pki.cert('csbr-leaf', {
      subject: '/O=test/CN=CSBR TSA',
      ext: EXT.leaf,
      issuer: 'csbr-root',
    });
    const { tsa, warnings } = await startCapturing({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('csbr-leaf.key'),
      certificateChainPath: pki.chain('csbr-chain.pem', 'csbr-leaf', 'csbr-root'),
    });
    expect(tsa.signer.algorithm.hash).toBe('sha256');
    expect(warnings).toEqual([
      'the TSA key is RSA 2048 bits; the CA/Browser Forum code-signing requirements (CSBR 6.1.5) ask for at least 3072',
    ]);
  });

  it('the chain maker makes RSA CA keys of 4096 bits and a TSA key of 3072 by default', async () => {
    const made = await createChain('rsa', ['--generate-keys', 'rsa']);
    expect(made.stderr).toBe('');
    const bits = async (name: string) =>
      (await openKeyReference(dir.path(`rsa-${name}.key`), 'auto')).publicKey.asymmetricKeyDetails
        ?.modulusLength;
    expect([await bits('root'), await bits('intermediate'), await bits('leaf')]).toEqual([
      4096, 4096, 3072,
    ]);
  });

  it('the chain maker warns when asked for weaker RSA keys', async () => {
    const made = await createChain('weak', ['--generate-keys', 'rsa-2048']);
    expect(made.stderr.trim().split('\n')).toEqual([
      'warning: the root key is RSA 2048 bits; the CA/Browser Forum code-signing requirements (CSBR 6.1.5) ask for at least 4096',
      'warning: the intermediate key is RSA 2048 bits; the CA/Browser Forum code-signing requirements (CSBR 6.1.5) ask for at least 4096',
      'warning: the leaf (TSA) key is RSA 2048 bits; the CA/Browser Forum code-signing requirements (CSBR 6.1.5) ask for at least 3072',
    ]);
  });
});
