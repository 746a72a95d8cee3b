import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { waitUntil } from '../../helpers/poll.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { cliArguments, fatalMessages } from '../../helpers/spawn-server.js';
import { childEnvironment, reapChild } from '../../helpers/process.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const PASSWORD = 'cli-Secret-Marker-42';

const work = tempDir();
const pki = new OpensslPki(work.dir);
let chain: string;
let encryptedKey: string;
let passwordFile: string;

/** The real CLI (built, or the sources through tsx when stale), as `timestamp-server serve ...`. */
function serve(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [...cliArguments(), 'serve', '--log-type', 'prod', '--port', '0', ...args],
    {
      cwd: REPO,
      env: childEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  reapChild(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) =>
    // 'close', not 'exit': the last lines may still be in the pipe when 'exit' fires.
    child.on('close', (code) => resolveExit(code)),
  );
  return { child, output: () => output, exited };
}

function spkiFingerprint(keyPath: string): string {
  const publicKey = createPublicKey(createPrivateKey(readFileSync(keyPath)));
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Runs a start-up that must fail: its exit code and its FATAL log lines. */
async function failedStart(args: string[]) {
  const run = serve(args);
  const code = await run.exited;
  return { code, fatal: fatalMessages(run.output()), output: run.output() };
}

beforeAll(async () => {
  chain = await pki.standardChain();
  encryptedKey = work.path('leaf-encrypted.key');
  await openssl([
    'pkcs8',
    '-topk8',
    '-in',
    pki.path('leaf.key'),
    '-v2',
    'aes-256-cbc',
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    encryptedKey,
  ]);
  chmodSync(encryptedKey, 0o600);
  passwordFile = work.write('password', `${PASSWORD}\n`);
  chmodSync(passwordFile, 0o400);
});
afterAll(() => work.cleanup());

describe('timestamp-server serve: start-up failures exit 1 with one clear line', () => {
  it('a chain rule (intermediate without the timeStamping EKU); starts with --enforce-intermediate-eku=false', async () => {
    await pki.key('plain-ca');
    await pki.cert('plain-ca', {
      subject: '/O=test/CN=Plain CA',
      ext: EXT.intermediate.replace('extendedKeyUsage=timeStamping\n', ''),
      issuer: 'root',
    });
    await pki.key('plain-leaf');
    await pki.cert('plain-leaf', {
      subject: '/O=test/CN=Plain Leaf',
      ext: EXT.leaf,
      issuer: 'plain-ca',
    });
    const plainChain = pki.chain('plain-chain.pem', 'plain-leaf', 'plain-ca', 'root');
    const args = [
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      pki.path('plain-leaf.key'),
      '--certificate-chain-path',
      plainChain,
    ];
    const failed = await failedStart(args);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toEqual([
      'cannot start: certificate must have extended key usage timestamping set to sign timestamping certificates',
    ]);

    const relaxed = serve([...args, '--enforce-intermediate-eku=false']);
    await waitUntil(() => relaxed.output().includes('serving timestamps on'));
    relaxed.child.kill('SIGTERM');
    expect(await relaxed.exited).toBe(0);
  });

  it('an expired leaf', async () => {
    await pki.key('expired');
    await pki.cert('expired', {
      subject: '/O=test/CN=Expired',
      ext: EXT.leaf,
      issuer: 'intermediate',
      days: -1,
    });
    const expiredChain = pki.chain('expired-chain.pem', 'expired', 'intermediate', 'root');
    const failed = await failedStart([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      pki.path('expired.key'),
      '--certificate-chain-path',
      expiredChain,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toHaveLength(1);
    expect(failed.fatal[0]).toMatch(
      /^cannot start: x509: certificate has expired or is not yet valid: current time .* is after /,
    );
  });

  it('a key that is not the leaf key: both files, both key types and fingerprints', async () => {
    const stranger = await pki.key('stranger-p384', 'P-384');
    const failed = await failedStart([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      stranger,
      '--certificate-chain-path',
      chain,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toHaveLength(1);
    const leafFingerprint = createHash('sha256')
      .update(
        new X509Certificate(readFileSync(pki.path('leaf.pem'))).publicKey.export({
          type: 'spki',
          format: 'der',
        }),
      )
      .digest('hex');
    // Go's message first, then what differs.
    expect(failed.fatal[0]).toBe(
      `cannot start: public keys are not equal: the leaf certificate's public key (chain ${chain}) is P-256 sha256:${leafFingerprint}, ` +
        `the signer's key (key file:${stranger}) is P-384 sha256:${spkiFingerprint(stranger)}`,
    );
  });

  it('a chain file with trailing data after the last PEM block, naming the file', async () => {
    const pem = readFileSync(chain, 'utf8');
    const trailing = work.write('trailing-chain.pem', `${pem}\nnot a certificate\n`);
    const failed = await failedStart([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      pki.path('leaf.key'),
      '--certificate-chain-path',
      trailing,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toEqual([
      `cannot start: reading certificate chain ${trailing}: trailing data after the last PEM block, at line ${pem.split('\n').length + 1}`,
    ]);
    // Text between blocks is skipped, as Go's pem.Decode does.
    const [first, ...rest] = pem.split(/(?=-----BEGIN)/);
    const between = work.write('between-chain.pem', `${first}comment\n${rest.join('')}`);
    const running = serve([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      pki.path('leaf.key'),
      '--certificate-chain-path',
      between,
    ]);
    await waitUntil(() => running.output().includes('serving timestamps on'));
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('a wrong password, which never appears in the output', async () => {
    const wrong = work.write('wrong-password', 'not-the-password-Marker');
    chmodSync(wrong, 0o600);
    const failed = await failedStart([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      encryptedKey,
      '--file-signer-passwd-file',
      wrong,
      '--certificate-chain-path',
      chain,
    ]);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toEqual([
      `cannot start: file: reading key path ${encryptedKey}: decryption failed (wrong password?)`,
    ]);
    expect(failed.output).not.toContain('not-the-password-Marker');
  });

  it('a Tink KEK scheme that does not exist', async () => {
    const keyset = resolve(
      REPO,
      'test',
      'fixtures',
      'tink',
      'generated',
      'tink-java-1.18.0',
      'java_ecdsa_p256.json',
    );
    const failed = await failedStart([
      '--timestamp-signer',
      'tink',
      '--tink-keyset-path',
      keyset,
      '--tink-key-resource',
      'azure-kms://vault.example/keys/k',
      '--certificate-chain-path',
      chain,
    ]);
    // Refused with the configuration, before anything starts (Go: exit 1 once the signer starts).
    expect(failed.code).toBe(2);
    expect(failed.fatal).toEqual([]);
    expect(failed.output).toContain(
      'unsupported --tink-key-resource "azure-kms://vault.example/keys/k": use gcp-kms://, aws-kms://, hcvault://',
    );
  });
});

describe('timestamp-server serve with the file signer', () => {
  it('reads the password from a file (a mounted Secret), serves tokens that openssl verifies', async () => {
    const running = serve([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      encryptedKey,
      '--file-signer-passwd-file',
      passwordFile,
      '--certificate-chain-path',
      chain,
    ]);
    try {
      await waitUntil(() => running.output().includes('serving timestamps on'));
      const url = /serving timestamps on (http:\/\/\S+?)"/.exec(running.output())?.[1];
      const data = work.write('cli-data.txt', 'served by the CLI');
      await openssl([
        'ts',
        '-query',
        '-data',
        data,
        '-sha256',
        '-cert',
        '-out',
        work.path('cli.tsq'),
      ]);
      const response = await fetch(`${url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: readFileSync(work.path('cli.tsq')),
      });
      expect(response.status).toBe(200);
      const reply = work.write('cli.tsr', Buffer.from(await response.arrayBuffer()));
      const root = pki.path('root.pem');
      const verified = await opensslTsVerify(
        reply,
        { queryfile: work.path('cli.tsq') },
        { root, untrusted: chain },
      );
      expect(verified).toContain('Verification: OK');
      expect(running.output()).not.toContain(PASSWORD);
      expect(running.output()).not.toContain('readable by group or others');
    } finally {
      running.child.kill('SIGTERM');
      await running.exited;
    }
  });
});
