import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import { verifyTimestampResponse } from '../../../src/verify/index.js';
import { openKeyReference } from '../../../src/signers/key-reference.js';
import { makeCertificateChain } from '../../../src/x509/chain-maker.js';
import { verifyCertChain } from '../../../src/x509/chain-rules.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { createFlagServer, requestToken } from '../../helpers/remote-tsa.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';

const dir = tempDir();
const pki = new OpensslPki(dir.dir);
afterAll(() => dir.cleanup());

/** RSASSA-PSS-params for SHA-256: hash, MGF1-SHA-256 and salt 32, hash identifiers with NULL. */
const PSS_SHA256_IDENTIFIER =
  '3041' +
  '06092a864886f70d01010a' +
  '3034' +
  'a00f300d06096086480165030402010500' +
  'a11c301a06092a864886f70d010108300d06096086480165030402010500' +
  'a203020120';

/** Issues a token over `data` and checks it with openssl ts -verify and with our verifier. */
async function issueAndVerifyBoth(
  server: Awaited<ReturnType<typeof createFlagServer>>,
  root: string,
  chainPath: string,
  hash = 'sha256',
) {
  const { statusCode, body, data } = await requestToken(server.app, dir, hash);
  expect(statusCode).toBe(200);
  const reply = dir.write('pss.tsr', body);
  const verified = await opensslTsVerify(reply, { data }, { root, untrusted: chainPath });
  expect(verified).toContain('Verification: OK');
  const timestamp = await verifyTimestampResponse(body, readFileSync(data), {
    roots: [decodeCertificatesPem(readFileSync(root, 'utf8'))[0] as Buffer],
    intermediates: decodeCertificatesPem(readFileSync(chainPath, 'utf8')),
  });
  expect(timestamp.signer.signatureAlgorithmOid).toBe(OID.rsassaPss);
  return body;
}

/** An RSA-PSS 2048 key `name`.key made with these `-pkeyopt` parameters (its restrictions). */
const pssKey = (name: string, parameters: readonly string[]) =>
  openssl([
    'genpkey',
    '-algorithm',
    'RSA-PSS',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    ...parameters.flatMap((parameter) => ['-pkeyopt', parameter]),
    '-out',
    pki.path(`${name}.key`),
  ]);

describe('RSA-PSS keys (id-RSASSA-PSS, RFC 4055)', () => {
  let chain: string;

  beforeAll(async () => {
    // The root is an RSA-PSS key too, so the intermediate certificate is signed with PSS.
    await pki.key('pss-root', 'RSA-PSS-2048');
    await pki.cert('pss-root', { subject: '/O=test/CN=PSS Root', ext: EXT.root, days: 3650 });
    await pki.key('pss-intermediate', 'P-256');
    await pki.cert('pss-intermediate', {
      subject: '/O=test/CN=PSS Intermediate',
      ext: EXT.intermediate,
      issuer: 'pss-root',
    });
    await pki.key('pss-leaf', 'RSA-PSS-3072');
    await pki.cert('pss-leaf', {
      subject: '/O=test/CN=PSS TSA',
      ext: EXT.leaf,
      issuer: 'pss-intermediate',
    });
    chain = pki.chain('pss-chain.pem', 'pss-leaf', 'pss-intermediate', 'pss-root');
  });

  it('the file signer serves PSS tokens (RFC 4055 parameters) that openssl and our verifier accept', async () => {
    const server = await createFlagServer({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('pss-leaf.key'),
      certificateChainPath: chain,
    });
    try {
      expect(server.signer.algorithm.oid).toBe(OID.rsassaPss);
      expect(server.signer.algorithm.identifier.toString('hex')).toBe(PSS_SHA256_IDENTIFIER);
      const token = await issueAndVerifyBoth(server, pki.path('pss-root.pem'), chain);
      expect(token.toString('hex')).toContain(PSS_SHA256_IDENTIFIER);
    } finally {
      await server.close();
    }
  });

  it('a PSS key restricted to SHA-384 signs with SHA-384 by default and refuses an explicit SHA-256', async () => {
    await pssKey('pss384-leaf', [
      'rsa_pss_keygen_md:sha384',
      'rsa_pss_keygen_mgf1_md:sha384',
      'rsa_pss_keygen_saltlen:48',
    ]);
    await pki.cert('pss384-leaf', {
      subject: '/O=test/CN=PSS-384 TSA',
      ext: EXT.leaf,
      issuer: 'pss-intermediate',
    });
    const chain384 = pki.chain('pss384-chain.pem', 'pss384-leaf', 'pss-intermediate', 'pss-root');
    const flags = {
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('pss384-leaf.key'),
      certificateChainPath: chain384,
    };
    const server = await createFlagServer(flags);
    try {
      expect(server.signer.algorithm.hash).toBe('sha384');
      await issueAndVerifyBoth(server, pki.path('pss-root.pem'), chain384);
    } finally {
      await server.close();
    }
    await expect(createFlagServer({ ...flags, timestampSignerHash: 'sha256' })).rejects.toThrow(
      'the RSA-PSS key is restricted to SHA384',
    );
  });

  it.each([
    [
      'a salt of the key other than the hash length (openssl ts -verify would check 20 bytes against 32)',
      ['rsa_pss_keygen_md:sha256', 'rsa_pss_keygen_mgf1_md:sha256'],
      "the RSA-PSS key requires a salt of 20 bytes, where this TSA signs with 32 (the SHA256 length; openssl ts -verify checks the key's length exactly): make the key with -pkeyopt rsa_pss_keygen_md:sha256 -pkeyopt rsa_pss_keygen_mgf1_md:sha256 -pkeyopt rsa_pss_keygen_saltlen:32, or without PSS parameters",
    ],
    [
      "OpenSSL's default MGF1 hash, SHA-1, beside a SHA-384 restriction",
      ['rsa_pss_keygen_md:sha384', 'rsa_pss_keygen_saltlen:48'],
      "the RSA-PSS key's MGF1 hash is SHA1 (OpenSSL's default where rsa_pss_keygen_mgf1_md is not given), where this TSA uses SHA384: make the key with -pkeyopt rsa_pss_keygen_md:sha384 -pkeyopt rsa_pss_keygen_mgf1_md:sha384 -pkeyopt rsa_pss_keygen_saltlen:48, or without PSS parameters",
    ],
  ])(
    'refuses at start a PSS key restricted to %s, saying how to make one',
    async (_what, options, message) => {
      const name = `pss-${options.length}-${options[0]!.split(':')[1]}`;
      await pssKey(name, options);
      await pki.cert(name, {
        subject: `/O=test/CN=${name}`,
        ext: EXT.leaf,
        issuer: 'pss-intermediate',
      });
      const chain = pki.chain(`${name}-chain.pem`, name, 'pss-intermediate', 'pss-root');
      await expect(
        createFlagServer({
          timestampSigner: 'file',
          fileSignerKeyPath: pki.path(`${name}.key`),
          certificateChainPath: chain,
        }),
      ).rejects.toThrow(message);
    },
  );

  it('the chain maker signs certificates with RSA-PSS keys, and the chain rules accept them', async () => {
    const keys = await Promise.all(
      ['maker-root', 'maker-intermediate', 'maker-leaf'].map(async (name) => {
        await pki.key(name, 'RSA-PSS-2048');
        return openKeyReference(pki.path(`${name}.key`), 'auto');
      }),
    );
    const [root, intermediate, leaf] = keys.map((signer, index) => ({
      signer,
      subject: { commonName: `PSS maker ${index}` },
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    }));
    const made = await makeCertificateChain({
      root: root!,
      intermediate: intermediate!,
      leaf: leaf!,
    });
    for (const der of made) {
      expect(new X509Certificate(der).toLegacyObject()).toBeDefined();
    }
    expect(() =>
      verifyCertChain(made, leaf!.signer.publicKey, { enforceIntermediateEku: true }),
    ).not.toThrow();
  });
});
