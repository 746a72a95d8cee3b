/**
 * The remote signers resolve their service's host through the process's SERVICE_LOOKUPS, one
 * lookup at a time (src/host-lookup.ts), not through dns.lookup per new connection: each service
 * here is named by a host only the test's resolver knows, so a signer that used the system's
 * resolver could not reach it. gcpkms:// is not here: gRPC resolves its channel's host itself, one
 * lookup at a time.
 */
import { verify, type KeyObject } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { nodeFetchUsesEnvProxy } from '../../../../src/signers/kms/vault.js';
import type { Signer } from '../../../../src/crypto/signer.js';
import { startFakeAwsKms } from '../../../fakes/aws-kms.js';
import { startFakeAzureKeyVault } from '../../../fakes/azure-key-vault.js';
import { selfSignedTls } from '../../../fakes/tls.js';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import { restoreEnvAfterAll } from '../../../helpers/env.js';
import { startForwardProxy } from '../../../helpers/forward-proxy.js';
import { lookupsKnowing } from '../../../helpers/named-lookups.js';
import { AWS_KMS_VARIABLES, FAKE_AWS_CREDENTIALS } from '../../../helpers/fake-aws-kms.js';

restoreEnvAfterAll([
  ...AWS_KMS_VARIABLES,
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'VAULT_ADDR',
  'VAULT_TOKEN',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NODE_USE_ENV_PROXY',
]);

const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** Eight signatures at once (connections opened as they come), each checked with `publicKey`. */
async function signsAtOnce(signer: Signer, publicKey: KeyObject): Promise<void> {
  const messages = Array.from({ length: 8 }, (_, i) => Buffer.from(`signed attributes ${i}`));
  const signatures = await Promise.all(messages.map((message) => signer.sign(message)));
  signatures.forEach((signature, i) => {
    expect(verify('sha256', messages[i]!, publicKey, signature)).toBe(true);
  });
}

describe("a remote signer's service host", () => {
  it('awskms://: resolved by the signer, for HTTPS', async () => {
    const name = 'aws-kms.test';
    const tls = selfSignedTls(name);
    const fake = await startFakeAwsKms({ tls });
    stops.push(() => fake.close());
    Object.assign(process.env, FAKE_AWS_CREDENTIALS);
    delete process.env['AWS_ENDPOINT_URL_KMS'];
    const { key, arn } = fake.createKey('ec-p256');
    const { lookups, asked } = lookupsKnowing(name);
    const uri = `awskms://${name}:${fake.port}/${arn}`;
    const signer = await createKmsSigner(uri, 'sha256', undefined, { lookups, ca: tls.cert });
    stops.push(() => signer[Symbol.asyncDispose]());
    await signsAtOnce(signer, key.publicKey!);
    expect(new Set(asked)).toEqual(new Set([name])); // asked, and for nothing else
  });

  it('azurekms://: resolved by the signer', async () => {
    const name = 'key-vault.test';
    const fake = await startFakeAzureKeyVault({ dnsName: name });
    stops.push(() => fake.close());
    Object.assign(process.env, fake.identityEnv);
    const key = fake.createKey('tsa', 'ec-p256');
    const { lookups, asked } = lookupsKnowing(name);
    const signer = await createKmsSigner(
      `azurekms://${fake.host.replace('127.0.0.1', name)}/tsa`,
      'sha256',
      undefined,
      { lookups, ca: fake.cert },
    );
    stops.push(() => signer[Symbol.asyncDispose]());
    await signsAtOnce(signer, key.publicKey!);
    expect(new Set(asked)).toEqual(new Set([name])); // asked, and for nothing else
  });

  it("azurekms:// through HTTPS_PROXY: the proxy is asked, not the signer's lookups", async () => {
    const name = 'proxied-vault.test';
    const fake = await startFakeAzureKeyVault({ dnsName: name });
    stops.push(() => fake.close());
    Object.assign(process.env, fake.identityEnv);
    const port = Number(fake.host.split(':')[1]);
    const proxy = await startForwardProxy((host) => (host === name ? port : undefined));
    stops.push(() => proxy.close());
    const { lookups, asked } = lookupsKnowing(name);
    process.env['HTTPS_PROXY'] = proxy.url;
    try {
      // Through the proxy the SDK's own agent connects, which trusts the system's CAs only: the
      // fake's certificate is refused, once the proxy has opened the tunnel.
      await expect(
        createKmsSigner(`azurekms://${name}:${port}/tsa`, 'sha256', undefined, {
          lookups,
          ca: fake.cert,
        }),
      ).rejects.toThrow(/certificate/);
    } finally {
      delete process.env['HTTPS_PROXY'];
    }
    expect(proxy.tunnels).toEqual([`CONNECT ${name}:${port}`]);
    expect(asked).toEqual([]);
  });

  it('hashivault://: resolved by the signer', async () => {
    const name = 'vault.test';
    const vault = await startFakeVault({ token: 'hvs.lookup-test-token' });
    stops.push(() => vault.close());
    Object.assign(process.env, {
      VAULT_ADDR: `http://${name}:${vault.port}`,
      VAULT_TOKEN: 'hvs.lookup-test-token',
    });
    const key = vault.createKey('tsa', 'ec-p256');
    const { lookups, asked } = lookupsKnowing(name);
    const signer = await createKmsSigner('hashivault://tsa', 'sha256', undefined, { lookups });
    stops.push(() => signer[Symbol.asyncDispose]());
    await signsAtOnce(signer, key.publicKey!);
    expect(new Set(asked)).toEqual(new Set([name])); // asked, and for nothing else
  });

  it("hashivault:// with NODE_USE_ENV_PROXY=1: through HTTP_PROXY, as Node's own fetch then", async () => {
    const name = 'proxied-vault.test';
    const vault = await startFakeVault({ token: 'hvs.lookup-test-token' });
    stops.push(() => vault.close());
    const proxy = await startForwardProxy((host) => (host === name ? vault.port : undefined));
    stops.push(() => proxy.close());
    Object.assign(process.env, {
      VAULT_ADDR: `http://${name}:${vault.port}`,
      VAULT_TOKEN: 'hvs.lookup-test-token',
      NODE_USE_ENV_PROXY: '1',
      HTTP_PROXY: proxy.url,
    });
    const key = vault.createKey('proxied', 'ec-p256');
    const { lookups, asked } = lookupsKnowing(name);
    try {
      const signer = await createKmsSigner('hashivault://proxied', 'sha256', undefined, {
        lookups,
      });
      stops.push(() => signer[Symbol.asyncDispose]());
      await signsAtOnce(signer, key.publicKey!);
    } finally {
      delete process.env['NODE_USE_ENV_PROXY'];
      delete process.env['HTTP_PROXY'];
    }
    // The proxy reached the vault by its name; the signer's lookups were not asked for it.
    const viaProxy = [...proxy.forwarded, ...proxy.tunnels];
    expect(viaProxy.length).toBeGreaterThan(0);
    expect(viaProxy.every((line) => line.includes(`${name}:${vault.port}`))).toBe(true);
    expect(asked).toEqual([]);
  });
});

describe("whether Node's fetch goes through the proxy variables", () => {
  it('NODE_USE_ENV_PROXY=1, or --use-env-proxy on the command line or in NODE_OPTIONS', () => {
    expect(nodeFetchUsesEnvProxy({}, [])).toBe(false);
    expect(nodeFetchUsesEnvProxy({ NODE_USE_ENV_PROXY: '1' }, [])).toBe(true);
    expect(nodeFetchUsesEnvProxy({ NODE_USE_ENV_PROXY: '0' }, [])).toBe(false);
    expect(nodeFetchUsesEnvProxy({}, ['--use-env-proxy'])).toBe(true);
    expect(
      nodeFetchUsesEnvProxy({ NODE_OPTIONS: '--max-old-space-size=512 --use-env-proxy' }, []),
    ).toBe(true);
  });
});
