/**
 * A server whose profiles sign with PKCS#11 keys that stop working while it runs (the token
 * refuses one's PIN after the module is initialized again; the other's key is deleted), their
 * breakers disabled: the profile's requests are refused as unavailable (503 with Retry-After, not
 * a 500 at each one), its /readyz line says why (the key, the PIN file), and clients are told a
 * fixed text that names neither; the default profile, on the same module, goes on issuing.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../../src/config/config-file.js';
import { resolveLayers } from '../../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../../src/runtime/serve.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  PKCS11_KEY_UNUSABLE,
  PKCS11_PIN_REFUSED,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { decodeResponse } from '../../../helpers/decode.js';
import { tempDir } from '../../../helpers/openssl.js';
import { writeChainFor } from '../../../helpers/remote-tsa.js';
import { SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';
import { silentLogger } from '../../../helpers/tsa.js';
import { helloTimeStampReq } from '../../../loadtest/request.js';

const hsm = new SoftHsm();
const dirs = [tempDir(), tempDir(), tempDir()] as const;
/** The profile's PIN file: its own, so that it can go wrong alone. */
const profilePin = hsm.dir.write('profile-pin', `${TEST_PIN}\n`);
const profileUri = hsm
  .uri('tsb', 'profile-key')
  .replace(`pin-source=file:${hsm.pinFile}`, `pin-source=file:${profilePin}`);
const ROTATED_PIN = '8642-rotated-pin';
/** Every process the module was loaded in, the latest last. */
const hosts: Pkcs11Calls[] = [];
const recordingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  hosts.push(host);
  return host;
};
let server: RunningServer;

/** The key's chain (leaf and root), made for its public key, read from the token. */
async function chainFor(uri: string, dir: (typeof dirs)[number]): Promise<string> {
  const signer = await createPkcs11Signer(uri, 'auto', { loadModule: recordingModule });
  try {
    return (await writeChainFor(signer.publicKey, dir)).chain;
  } finally {
    await signer[Symbol.asyncDispose]();
  }
}

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.initToken('tsb');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'gone-key', 'EC:prime256v1', '02');
  await hsm.keygen('tsb', 'profile-key', 'EC:prime256v1', '01');
  const defaultChain = await chainFor(hsm.uri('tsa', 'tsa-key'), dirs[0]);
  const profileChain = await chainFor(profileUri, dirs[1]);
  const goneChain = await chainFor(hsm.uri('tsa', 'gone-key'), dirs[2]);
  const config = dirs[0].write(
    'timestamp-server.yaml',
    [
      'port: 0',
      'metrics-port: 0',
      'disable-ntp-monitoring: true',
      'timestamp-signer: pkcs11',
      `pkcs11-uri: "${hsm.uri('tsa', 'tsa-key')}"`,
      `certificate-chain-path: ${defaultChain}`,
      'profiles:',
      '  - name: hsm',
      '    policy-oids: [1.2.3.4.200]',
      '    timestamp-signer: pkcs11',
      `    pkcs11-uri: "${profileUri}"`,
      `    certificate-chain-path: ${profileChain}`,
      '    kms-breaker-threshold: 0',
      '  - name: gone',
      '    policy-oids: [1.2.3.4.300]',
      '    timestamp-signer: pkcs11',
      `    pkcs11-uri: "${hsm.uri('tsa', 'gone-key')}"`,
      `    certificate-chain-path: ${goneChain}`,
      '    kms-breaker-threshold: 0',
      '',
    ].join('\n'),
  );
  server = await startServer(resolveLayers([readConfigFile(config)]).config, silentLogger, {
    signerDependencies: { loadPkcs11Module: recordingModule },
  });
});
afterAll(async () => {
  try {
    await server?.close();
  } finally {
    hsm.cleanup();
    for (const dir of dirs) dir.cleanup();
  }
});

async function issue(profile: '' | '/hsm' | '/gone') {
  const response = await fetch(`${server.url}/api/v1/timestamp${profile}`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: helloTimeStampReq(),
  });
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    statusStrings: decodeResponse(body).statusStrings,
  };
}

async function readyz(): Promise<{ status: number; body: string }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: await response.text() };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 50));

/** Kills the module's process: every key reconnects at its next signature. */
async function killModule(): Promise<void> {
  const host = hosts.at(-1)!;
  process.kill(host.pid, 'SIGKILL');
  while (!host.stopped) await turn();
}

/** What a client may not read: the keys, the tokens, the PIN files and the PINs. */
function expectNothingSecret(statusStrings: string[]): void {
  const secrets = ['profile-key', 'gone-key', 'tsa', 'tsb', profilePin, hsm.pinFile];
  for (const secret of [...secrets, TEST_PIN, ROTATED_PIN]) {
    expect(statusStrings.join('\n')).not.toContain(secret);
  }
}

describe('a pkcs11 profile whose key stops working', () => {
  it('while the token refuses its PIN: its requests are refused with a fixed text, /readyz naming the PIN file, and the default profile issues', async () => {
    expect((await issue('/hsm')).status).toBe(200);

    // The token's PIN changes (the PIN file not told); the module's process dies.
    await hsm.changePin('tsb', TEST_PIN, ROTATED_PIN);
    try {
      await killModule();
      const refused = await issue('/hsm');
      expect(refused).toMatchObject({ status: 503, retryAfter: '10' });
      expect(refused.statusStrings).toEqual([
        'Error generating timestamp response',
        PKCS11_PIN_REFUSED,
      ]);
      expectNothingSecret(refused.statusStrings);
      expect(await readyz()).toEqual({
        status: 200,
        body: `ok\ndefault: ok\nhsm: pkcs11:token=tsb;object=profile-key: the token refused the PIN (CKR_PIN_INCORRECT); update the PIN file ${profilePin}: this PIN is not offered again\ngone: ok`,
      });
      expect((await issue('')).status).toBe(200);
      expect(await issue('/hsm')).toMatchObject({ status: 503 });

      // The file mended: available again, by itself.
      writeFileSync(profilePin, `${ROTATED_PIN}\n`);
      while ((await readyz()).body !== 'ok\ndefault: ok\nhsm: ok\ngone: ok') await turn();
      expect((await issue('/hsm')).status).toBe(200);
    } finally {
      await hsm.changePin('tsb', ROTATED_PIN, TEST_PIN);
      writeFileSync(profilePin, `${TEST_PIN}\n`);
    }
  });

  it('while its key is missing: its requests are unavailable (503, not a 500 at each), whatever its breaker, /readyz naming the key, and the default profile issues', async () => {
    expect((await issue('/gone')).status).toBe(200);
    // Its key deleted; the module's process dies.
    await hsm.deleteKeyPair('tsa', 'gone-key');
    await killModule();
    for (let i = 0; i < 3; i++) {
      const unusable = await issue('/gone');
      expect(unusable).toMatchObject({ status: 503, retryAfter: '1' });
      expect(unusable.statusStrings).toEqual([
        'Error generating timestamp response',
        PKCS11_KEY_UNUSABLE,
      ]);
      expectNothingSecret(unusable.statusStrings);
    }
    expect(await readyz()).toEqual({
      status: 200,
      body: 'ok\ndefault: ok\nhsm: ok\ngone: pkcs11:token=tsa;object=gone-key: no private key matches',
    });
    expect((await issue('')).status).toBe(200);
  });
});
