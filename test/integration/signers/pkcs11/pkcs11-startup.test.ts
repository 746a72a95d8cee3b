/**
 * The pkcs11 signer as users run it, in separate processes on SoftHSM2: a chain made entirely with
 * keys that never leave the token (`timestamp-cli certificates create` with pkcs11: URIs) passes
 * the server's start-up rules and serves tokens openssl verifies; a wrong PIN stops start-up with
 * one line that names the key and never the PIN.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePem } from '../../../../src/x509/pem.js';
import { decodeCertificatesPem } from '../../../helpers/pem.js';
import { runCli as runTimestampCli } from '../../../helpers/cli.js';
import { tempDir } from '../../../helpers/openssl.js';
import {
  runCli as runServer,
  SERVE_ON_EPHEMERAL_PORTS,
  spawnServer,
} from '../../../helpers/spawn-server.js';
import { SoftHsm, SOFTHSM_MODULE, TEST_PIN } from '../../../helpers/softhsm.js';
import { opensslTimestampOverHttp, opensslTsVerify } from '../../../helpers/timestamp-roundtrip.js';

const hsm = new SoftHsm();
const dir = tempDir();
afterAll(() => {
  hsm.cleanup();
  dir.cleanup();
});

beforeAll(async () => {
  await hsm.initToken('ca');
  await hsm.initToken('tsa');
  await hsm.keygen('ca', 'root', 'EC:secp384r1', '01');
  await hsm.keygen('ca', 'intermediate', 'EC:secp384r1', '02');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
});

describe('pkcs11 keys end to end', () => {
  it('a chain made with HSM keys only passes start-up, and its tokens verify with openssl', async () => {
    const chainPath = dir.path('chain.pem');
    const made = await runTimestampCli(
      [
        'certificates',
        'create',
        '--root-key',
        hsm.uri('ca', 'root'),
        '--intermediate-key',
        hsm.uri('ca', 'intermediate'),
        '--leaf-key',
        hsm.uri('tsa', 'tsa-key'),
        '--organization',
        'HSM test',
        '--output',
        chainPath,
      ],
      { env: { SOFTHSM2_CONF: hsm.conf } },
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const chain = decodeCertificatesPem(readFileSync(chainPath, 'utf8'));
    expect(chain).toHaveLength(3);
    const root = dir.write('root.pem', encodePem('CERTIFICATE', chain[2] as Buffer));

    const server = await spawnServer(
      [
        '--timestamp-signer',
        'pkcs11',
        '--pkcs11-uri',
        hsm.uri('tsa', 'tsa-key'),
        '--certificate-chain-path',
        chainPath,
      ],
      { SOFTHSM2_CONF: hsm.conf },
    );
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const data = dir.write('data.txt', 'an artifact');
      const { reply } = await opensslTimestampOverHttp(server.url, dir, data);
      const verified = await opensslTsVerify(reply, { data }, { root, untrusted: chainPath });
      expect(verified).toContain('Verification: OK');
      const started = server.lines.find((line) => line.includes('serving timestamps on'));
      expect(started).toContain('"signer":"pkcs11:token=tsa;object=tsa-key"');
      expect(server.lines.join('\n')).not.toContain(TEST_PIN);
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['pin-source', (wrong: string) => `pin-source=file:${dir.write('wrong-pin', wrong)}`],
    ['pin-value', (wrong: string) => `pin-value=${wrong}`],
  ])('a wrong PIN (%s) stops start-up with one line and no PIN', async (_, pinQuery) => {
    const wrong = 'wrong-pin-31337';
    const chainPath = dir.write('unused-chain.pem', readFileSync(dir.path('chain.pem')));
    const uri = `pkcs11:token=tsa;object=tsa-key?module-path=${SOFTHSM_MODULE}&${pinQuery(wrong)}`;
    const run = runServer(
      [
        ...SERVE_ON_EPHEMERAL_PORTS,
        '--timestamp-signer',
        'pkcs11',
        '--pkcs11-uri',
        uri,
        '--certificate-chain-path',
        chainPath,
      ],
      { SOFTHSM2_CONF: hsm.conf, HOME: dir.dir },
    );
    expect(await run.exited).toBe(1);
    const output = `${run.stdout()}${run.stderr()}`;
    expect(output).not.toContain(wrong);
    const fatal = output.split('\n').filter((line) => line.includes('"severity":"FATAL"'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(
      'cannot start: pkcs11:token=tsa;object=tsa-key: the token refused the PIN (CKR_PIN_INCORRECT)',
    );
    expect(run.stderr()).toBe('');
  });
});
