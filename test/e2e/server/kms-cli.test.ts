import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAwsKms } from '../../fakes/aws-kms.js';
import { startFakeAzureKeyVault } from '../../fakes/azure-key-vault.js';
import { startFakeVault } from '../../fakes/vault-transit.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { awsKmsEnvironment } from '../../helpers/fake-aws-kms.js';
import { cliArguments } from '../../helpers/spawn-server.js';
import { childEnvironment, reapChild } from '../../helpers/process.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';

const TOKEN = 'hvs.cli-secret-token-never-logged';
const dir = tempDir();
let vault: Awaited<ReturnType<typeof startFakeVault>>;

beforeAll(async () => {
  vault = await startFakeVault({ token: TOKEN });
});
afterAll(async () => {
  await vault.close();
  dir.cleanup();
});

/** Runs `timestamp-server serve` with flags and env; resolves with its URL once it listens, or its exit. */
function serve(args: string[], env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [...cliArguments(), 'serve', '--port', '0', '--log-type', 'prod', ...args],
    {
      env: childEnvironment(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  reapChild(child);
  let output = '';
  const ready = new Promise<{ url?: string; code?: number | null }>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /serving timestamps on (http:\/\/[^"\s]+)/.exec(output)?.[1];
      if (url) resolve({ url });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // 'close', not 'exit': the last lines may still be in the pipe when 'exit' fires.
    child.on('close', (code) => resolve({ code }));
  });
  return {
    ready,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) =>
        child.exitCode !== null
          ? resolve()
          : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
      ),
  };
}

async function timestamp(url: string) {
  const data = dir.write('data.txt', `cli artifact ${Math.random()}`);
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', dir.path('q.tsq')]);
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(dir.path('q.tsq')),
  });
  return { response, data };
}

describe('timestamp-server serve --timestamp-signer kms', () => {
  it('serves verifiable tokens from a Vault transit key, with the token read from a file and never logged', async () => {
    const key = vault.createKey('cli-key', 'ec-p256');
    const paths = await writeChainFor(key.publicKey!, dir);
    const server = serve(
      [
        '--timestamp-signer',
        'kms',
        '--kms-key-resource',
        'hashivault://cli-key',
        '--certificate-chain-path',
        paths.chain,
        '--kms-timeout',
        '2s',
      ],
      { VAULT_ADDR: vault.origin, VAULT_TOKEN: '', VAULT_TOKEN_FILE: dir.write('token', TOKEN) },
    );
    try {
      const { url } = await server.ready;
      expect(url, server.output()).toBeDefined();
      const { response, data } = await timestamp(url!);
      expect(response.status).toBe(200);
      const reply = dir.write('r.tsr', Buffer.from(await response.arrayBuffer()));
      expect(
        await openssl(['ts', '-verify', '-in', reply, '-data', data, '-CAfile', paths.root]),
      ).toContain('Verification: OK');

      vault.faults.errorStatus = 503;
      expect((await timestamp(url!)).response.status).toBe(500);
      vault.faults.errorStatus = undefined;
      expect((await timestamp(url!)).response.status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(server.output()).not.toContain(TOKEN);
  });

  it('exits non-zero with one clear line when the key cannot sign', async () => {
    vault.createKey('cli-aes', 'aes-256');
    const paths = await writeChainFor(vault.createKey('unused', 'ec-p256').publicKey!, dir);
    const server = serve(
      [
        '--timestamp-signer',
        'kms',
        '--kms-key-resource',
        'hashivault://cli-aes',
        '--certificate-chain-path',
        paths.chain,
      ],
      { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN },
    );
    const { code } = await server.ready;
    expect(code).toBe(1);
    expect(server.output()).toContain(
      'cannot start: hashivault:transit/cli-aes: cannot read the public key: transit key type aes256-gcm96 cannot sign a digest',
    );
    expect(server.output()).not.toContain(TOKEN);
  });

  it('awskms://host:port/ uses https to that endpoint; AWS_TLS_INSECURE_SKIP_VERIFY=1 accepts its certificate', async () => {
    const aws = await startFakeAwsKms({ tls: selfSignedTls() });
    try {
      const created = aws.createKey('ec-p256', 'cli');
      const paths = await writeChainFor(created.key.publicKey!, dir);
      // No endpoint override: the key URI names the endpoint.
      const env = awsKmsEnvironment('');
      const args = [
        '--timestamp-signer',
        'kms',
        '--kms-key-resource',
        `awskms://127.0.0.1:${aws.port}/alias/cli`,
        '--certificate-chain-path',
        paths.chain,
      ];
      const untrusted = serve(args, env);
      expect((await untrusted.ready).code).toBe(1);
      expect(untrusted.output()).toMatch(
        /cannot start: awskms:alias\/cli: cannot read the public key: .*(self-signed|certificate)/,
      );

      const server = serve(args, { ...env, AWS_TLS_INSECURE_SKIP_VERIFY: '1' });
      try {
        const { url } = await server.ready;
        expect(url, server.output()).toBeDefined();
        expect((await timestamp(url!)).response.status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      await aws.close();
    }
  });

  it('azurekms:// with the flags: DefaultAzureCredential (managed identity) and a CA from NODE_EXTRA_CA_CERTS', async () => {
    const azure = await startFakeAzureKeyVault();
    try {
      const key = azure.createKey('cli-key', 'ec-p384');
      const paths = await writeChainFor(key.publicKey!, dir);
      const server = serve(
        [
          '--timestamp-signer',
          'kms',
          '--timestamp-signer-hash',
          'sha384',
          '--kms-key-resource',
          `azurekms://${azure.host}/cli-key`,
          '--certificate-chain-path',
          paths.chain,
        ],
        { ...azure.identityEnv, NODE_EXTRA_CA_CERTS: dir.write('azure-ca.pem', azure.cert) },
      );
      try {
        const { url } = await server.ready;
        expect(url, server.output()).toBeDefined();
        const { response, data } = await timestamp(url!);
        expect(response.status).toBe(200);
        const reply = dir.write('azure.tsr', Buffer.from(await response.arrayBuffer()));
        expect(
          await openssl(['ts', '-verify', '-in', reply, '-data', data, '-CAfile', paths.root]),
        ).toContain('Verification: OK');
      } finally {
        await server.stop();
      }
    } finally {
      await azure.close();
    }
  });
});
