import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError, verifyTimestampResponse } from '../../../src/index.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { runCli } from '../../helpers/cli.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { openssl, tempDir } from '../../helpers/openssl.js';

const artifact = Buffer.from('signed by openssl ts -reply\n');

/** An openssl TSA section (openssl-ts(1) CONFIGURATION FILE OPTIONS) over a chain made by our chain maker. */
function tsaConfig(
  dir: string,
  options: { essCertIdAlg?: string; tsaName: boolean; digest: string },
): string {
  return [
    '[ tsa ]',
    'default_tsa = tsa_config',
    '[ tsa_config ]',
    `dir = ${dir}`,
    'serial = $dir/serial',
    'signer_cert = $dir/leaf.pem',
    'certs = $dir/intermediate.pem',
    'signer_key = $dir/leaf.key',
    `signer_digest = ${options.digest}`,
    'default_policy = 1.3.6.1.4.1.57264.2',
    'other_policies = 1.2.3.4',
    'digests = sha256, sha384, sha512',
    'accuracy = secs:1, millisecs:500',
    'ordering = yes',
    `tsa_name = ${options.tsaName ? 'yes' : 'no'}`,
    'ess_cert_id_chain = no',
    ...(options.essCertIdAlg ? [`ess_cert_id_alg = ${options.essCertIdAlg}`] : []),
    '',
  ].join('\n');
}

describe.each([
  ['ecdsa-p256', 'sha256', 'sha1', true], // sha1: ESSCertID v1 (signingCertificate)
  ['ecdsa-p384', 'sha384', 'sha256', false], // sha256/sha512: ESSCertIDv2
  ['rsa-2048', 'sha256', 'sha512', true],
])(
  'tokens made by openssl ts -reply (%s key, %s, ESSCertID %s)',
  (keyType, digest, essCertIdAlg, tsaName) => {
    const dir = tempDir();
    let root: Buffer;
    let intermediate: Buffer;
    let token: Buffer;

    beforeAll(async () => {
      const made = await runCli([
        'certificates',
        'create',
        '--generate-keys',
        keyType,
        '--root-key',
        dir.path('root.key'),
        '--intermediate-key',
        dir.path('intermediate.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--leaf-common-name',
        'OpenSSL TSA',
        '--output',
        dir.path('chain.pem'),
      ]);
      expect(made.code).toBe(0);
      const chain = decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8'));
      [, intermediate, root] = chain as [Buffer, Buffer, Buffer];
      const pem = readFileSync(dir.path('chain.pem'), 'utf8').split(
        /(?<=-----END CERTIFICATE-----\n)/,
      );
      dir.write('leaf.pem', pem[0] as string);
      dir.write('intermediate.pem', pem[1] as string);
      dir.write('serial', '01\n');
      dir.write(
        'tsa.cnf',
        tsaConfig(dir.dir, { digest, tsaName, ...(essCertIdAlg ? { essCertIdAlg } : {}) }),
      );
      dir.write('artifact', artifact);
      await openssl([
        'ts',
        '-query',
        '-data',
        dir.path('artifact'),
        '-sha256',
        '-cert',
        '-out',
        dir.path('request.tsq'),
      ]);
      await openssl([
        'ts',
        '-reply',
        '-config',
        dir.path('tsa.cnf'),
        '-queryfile',
        dir.path('request.tsq'),
        '-chain',
        dir.path('intermediate.pem'),
        '-out',
        dir.path('response.tsr'),
      ]);
      token = readFileSync(dir.path('response.tsr'));
    });
    afterAll(() => dir.cleanup());

    it('verifies with the library', async () => {
      const timestamp = await verifyTimestampResponse(token, artifact, {
        roots: [root],
        oid: '1.3.6.1.4.1.57264.2',
        commonName: 'OpenSSL TSA',
      });
      expect(timestamp.accuracy).toEqual({ seconds: 1, millis: 500, micros: 0 });
      expect(timestamp.ordering).toBe(true);
      expect(timestamp.nonce).toBeTypeOf('bigint');
      expect(timestamp.signer.digestAlgorithm).toBe(digest);
      expect(timestamp.tsaName === undefined).toBe(!tsaName);
      expect(timestamp.certificates.length).toBeGreaterThanOrEqual(2);
      const names = timestamp.signer.signedAttributes.map((attribute) => attribute.name);
      expect(names).toContain(
        essCertIdAlg === 'sha1' ? 'signingCertificate' : 'signingCertificateV2',
      );
    });

    it('fails for another artifact and another root', async () => {
      await expect(
        verifyTimestampResponse(token, Buffer.from('x'), { roots: [root] }),
      ).rejects.toThrow("hashed messages don't match");
      const otherRoot = decodeCertificatesPem(selfSignedTls().cert);
      const failure = verifyTimestampResponse(token, artifact, {
        roots: otherRoot,
        intermediates: [intermediate],
      });
      await expect(failure).rejects.toBeInstanceOf(VerificationError);
      await expect(failure).rejects.toThrow(
        /^error while verifying signer certificate chain: x509: certificate signed by unknown authority/,
      );
    });

    it('verifies with the CLI, and inspect shows it', async () => {
      dir.write(
        'root.pem',
        readFileSync(dir.path('chain.pem'), 'utf8').split(
          /(?<=-----END CERTIFICATE-----\n)/,
        )[2] as string,
      );
      const verified = await runCli([
        'verify',
        '--timestamp',
        dir.path('response.tsr'),
        '--artifact',
        dir.path('artifact'),
        '--certificate-chain',
        dir.path('chain.pem'),
      ]);
      expect(verified.stderr).toBe('');
      expect(verified.stdout).toBe(`Successfully verified timestamp ${dir.path('response.tsr')}\n`);
      const inspected = await runCli(['inspect', '--timestamp', dir.path('response.tsr')]);
      expect(inspected.stdout).toContain('Ordering:          yes');
      expect(inspected.stdout).toContain('Accuracy:          1s 500ms 0us');
    });
  },
);
