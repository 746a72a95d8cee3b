import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { openKeyReference } from '../../../src/signers/key-reference.js';
import { selfTest, startServer } from '../../../src/runtime/serve.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { silentLogger } from '../../helpers/tsa.js';
import { verifyCertChain } from '../../../src/x509/chain-rules.js';
import { startFakeVault } from '../../fakes/vault-transit.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { privateKeyUsagePeriod } from '../../../src/x509/private-key-usage-period.js';
import { encodePem } from '../../../src/x509/pem.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { verifyTimestampResponse } from '../../../src/index.js';
import { runCli } from '../../helpers/cli.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { acceptedRequest, encoderFor } from '../../helpers/pki.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { selfSignedTls } from '../../fakes/tls.js';

const HOUR = 3_600_000;
const artifact = Buffer.from('chain maker artifact\n');

/** The server with the file signer over `dir`'s leaf.key and chain.pem (create's output). */
const serverOver = (dir: ReturnType<typeof tempDir>) =>
  startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      timestampSigner: 'file',
      fileSignerKeyPath: dir.path('leaf.key'),
      certificateChainPath: dir.path('chain.pem'),
    }),
    silentLogger,
  );

describe('timestamp-cli certificates create', () => {
  const dir = tempDir();
  let chain: Buffer[];
  beforeAll(async () => {
    const result = await runCli([
      'certificates',
      'create',
      '--generate-keys',
      'ecdsa-p256',
      '--root-key',
      dir.path('root.key'),
      '--intermediate-key',
      dir.path('intermediate.key'),
      '--leaf-key',
      dir.path('leaf.key'),
      '--organization',
      'Example Org',
      '--leaf-common-name',
      'Example TSA',
      '--output',
      dir.path('chain.pem'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Wrote certificate chain (leaf, intermediate, root)');
    chain = decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8'));
    dir.write('leaf.pem', encodePem('CERTIFICATE', chain[0] as Buffer));
    dir.write('intermediate.pem', encodePem('CERTIFICATE', chain[1] as Buffer));
    dir.write('root.pem', encodePem('CERTIFICATE', chain[2] as Buffer));
  });
  afterAll(() => dir.cleanup());

  it('writes leaf, intermediate, root and private keys readable by the owner only', () => {
    expect(chain).toHaveLength(3);
    for (const key of ['root.key', 'intermediate.key', 'leaf.key']) {
      expect(statSync(dir.path(key)).mode & 0o777).toBe(0o600);
    }
    const [leaf, intermediate, root] = chain.map((der) => new X509Certificate(der)) as [
      X509Certificate,
      X509Certificate,
      X509Certificate,
    ];
    expect(leaf.subject).toBe('O=Example Org\nCN=Example TSA');
    expect(leaf.checkIssued(intermediate) && intermediate.checkIssued(root)).toBe(true);
  });

  it('uses Go certificate-maker lifetimes: root 87600h, intermediate 43800h, leaf 8760h', () => {
    const span = (der: Buffer) => {
      const certificate = new X509Certificate(der);
      return Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);
    };
    expect(span(chain[2] as Buffer)).toBe(87_600 * HOUR);
    expect(span(chain[1] as Buffer)).toBe(43_800 * HOUR);
    expect(span(chain[0] as Buffer)).toBe(8_760 * HOUR);
  });

  it('passes openssl verify -purpose timestampsign', async () => {
    const output = await openssl([
      'verify',
      '-purpose',
      'timestampsign',
      '-x509_strict',
      '-CAfile',
      dir.path('root.pem'),
      '-untrusted',
      dir.path('intermediate.pem'),
      dir.path('leaf.pem'),
    ]);
    expect(output).toContain(': OK');
  });

  it('makes a leaf with digitalSignature only and a critical timeStamping EKU; an intermediate with the timeStamping EKU', async () => {
    const leafText = await openssl(['x509', '-in', dir.path('leaf.pem'), '-noout', '-text']);
    expect(leafText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(leafText).toMatch(/X509v3 Extended Key Usage: critical\s+Time Stamping\n/);
    expect(leafText).not.toContain('CA:TRUE');
    const intermediateText = await openssl([
      'x509',
      '-in',
      dir.path('intermediate.pem'),
      '-noout',
      '-text',
    ]);
    expect(intermediateText).toMatch(/X509v3 Extended Key Usage:\s+Time Stamping\n/);
    expect(intermediateText).toMatch(/CA:TRUE, pathlen:0/);
    const rootText = await openssl(['x509', '-in', dir.path('root.pem'), '-noout', '-text']);
    expect(rootText).toMatch(/CA:TRUE, pathlen:1/);
    expect(rootText).not.toContain('Extended Key Usage');
  });

  it("the leaf key signs tokens the server's way that our verifier and openssl ts -verify accept", async () => {
    // The server's signer self-test (public key pairing, sign/verify) accepts the key and leaf.
    const signer = await openKeyReference(dir.path('leaf.key'), 'sha256');
    await selfTest(signer, parseCertificate(chain[0] as Buffer));
    const encoder = encoderFor(signer, chain, true);
    const token = await encoder.encode({
      request: acceptedRequest({ artifact, nonce: 42n }),
      serialNumber: Buffer.from('01', 'hex'),
      genTime: new Date(),
    });
    const timestamp = await verifyTimestampResponse(token, artifact, {
      roots: [chain[2] as Buffer],
      nonce: 42n,
      commonName: 'Example TSA',
    });
    expect(timestamp.certificates).toHaveLength(3);
    dir.write('token.tsr', token);
    dir.write('artifact', artifact);
    const output = await opensslTsVerify(
      dir.path('token.tsr'),
      { data: dir.path('artifact') },
      { root: dir.path('root.pem'), untrusted: dir.path('intermediate.pem') },
    );
    expect(output).toContain('Verification: OK');
  });

  it('starts the server with the file signer (start-up chain rules pass) and its tokens verify', async () => {
    const server = await serverOver(dir);
    try {
      const digest = createHash('sha256').update(artifact).digest('base64');
      const response = await fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          artifactHash: digest,
          hashAlgorithm: 'sha256',
          certificates: true,
          nonce: 7,
        }),
      });
      expect(response.status).toBe(200);
      const token = Buffer.from(await response.arrayBuffer());
      const timestamp = await verifyTimestampResponse(token, artifact, {
        roots: [chain[2] as Buffer],
        intermediates: [chain[1] as Buffer],
        nonce: 7n,
        commonName: 'Example TSA',
      });
      expect(timestamp.certificates).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('without --intermediate-key the root issues the leaf', async () => {
    const two = tempDir();
    try {
      const result = await runCli([
        'certificates',
        'create',
        '--generate-keys',
        'rsa-2048',
        '--root-key',
        two.path('root.key'),
        '--leaf-key',
        two.path('leaf.key'),
        '--output',
        two.path('chain.pem'),
      ]);
      expect(result.code).toBe(0);
      const certificates = decodeCertificatesPem(readFileSync(two.path('chain.pem'), 'utf8'));
      expect(certificates).toHaveLength(2);
      expect(
        new X509Certificate(certificates[0] as Buffer).checkIssued(
          new X509Certificate(certificates[1] as Buffer),
        ),
      ).toBe(true);
    } finally {
      two.cleanup();
    }
  });

  it('never lets a certificate outlive its issuer, and honours --not-before', async () => {
    const result = await runCli([
      'certificates',
      'create',
      '--root-key',
      dir.path('root.key'),
      '--intermediate-key',
      dir.path('intermediate.key'),
      '--leaf-key',
      dir.path('leaf.key'),
      '--not-before',
      '2030-01-01T00:00:00Z',
      '--intermediate-lifetime',
      '1h',
      '--output',
      dir.path('short.pem'),
    ]);
    expect(result.code).toBe(0);
    const [leaf, intermediate, root] = decodeCertificatesPem(
      readFileSync(dir.path('short.pem'), 'utf8'),
    ).map((der) => new X509Certificate(der)) as [X509Certificate, X509Certificate, X509Certificate];
    expect(new Date(root.validFrom).toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(new Date(intermediate.validTo).toISOString()).toBe('2030-01-01T01:00:00.000Z');
    expect(leaf.validTo).toBe(intermediate.validTo);
  });

  it('reuses existing key files and never overwrites them', async () => {
    const before = readFileSync(dir.path('leaf.key'), 'utf8');
    const result = await runCli([
      'certificates',
      'create',
      '--generate-keys',
      'ecdsa-p256',
      '--root-key',
      dir.path('root.key'),
      '--leaf-key',
      dir.path('leaf.key'),
      '--output',
      dir.path('again.pem'),
    ]);
    expect(result.code).toBe(0);
    expect(readFileSync(dir.path('leaf.key'), 'utf8')).toBe(before);
    const leaf = new X509Certificate(
      decodeCertificatesPem(readFileSync(dir.path('again.pem'), 'utf8'))[0] as Buffer,
    );
    expect(leaf.publicKey.export({ format: 'jwk' })).toEqual(
      new LocalKeySigner('x', createPrivateKey(before), 'sha256').publicKey.export({
        format: 'jwk',
      }),
    );
  });

  it('makes a chain whose keys live in a KMS (Vault transit), signed through the Signer interface', async () => {
    const vault = await startFakeVault({ token: 'chain-maker-token' });
    try {
      vault.createKey('root', 'ec-p384');
      const leafKey = vault.createKey('leaf', 'ec-p256').publicKey as KeyObject;
      const result = await runCli(
        [
          'certificates',
          'create',
          '--root-key',
          'hashivault://root',
          '--leaf-key',
          'hashivault://leaf',
          '--output',
          dir.path('kms-chain.pem'),
        ],
        { env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: 'chain-maker-token' } },
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const kmsChain = decodeCertificatesPem(readFileSync(dir.path('kms-chain.pem'), 'utf8'));
      expect(kmsChain).toHaveLength(2);
      // The leaf certifies the KMS leaf key, and the server's start-up rules accept the chain.
      expect(new X509Certificate(kmsChain[0] as Buffer).publicKey.equals(leafKey)).toBe(true);
      verifyCertChain(kmsChain, leafKey, { enforceIntermediateEku: true });
      dir.write('kms-root.pem', encodePem('CERTIFICATE', kmsChain[1] as Buffer));
      dir.write('kms-leaf.pem', encodePem('CERTIFICATE', kmsChain[0] as Buffer));
      expect(
        await openssl([
          'verify',
          '-purpose',
          'timestampsign',
          '-x509_strict',
          '-CAfile',
          dir.path('kms-root.pem'),
          dir.path('kms-leaf.pem'),
        ]),
      ).toContain(': OK');
    } finally {
      await vault.close();
    }
  });

  it('refuses a missing key file without --generate-keys', async () => {
    const missing = await runCli([
      'certificates',
      'create',
      '--root-key',
      dir.path('none.key'),
      '--leaf-key',
      dir.path('leaf.key'),
      '--output',
      dir.path('x.pem'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read key file ${dir.path('none.key')}`);
  });
});

describe('timestamp-cli certificates create --leaf-private-key-usage-period', () => {
  const dir = tempDir();
  let chain: Buffer[];
  let leafFrom: number;
  beforeAll(async () => {
    const result = await runCli([
      'certificates',
      'create',
      '--generate-keys',
      'ecdsa-p256',
      '--root-key',
      dir.path('root.key'),
      '--leaf-key',
      dir.path('leaf.key'),
      '--leaf-private-key-usage-period',
      '1h',
      '--output',
      dir.path('chain.pem'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    chain = decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8'));
    dir.write('leaf.pem', encodePem('CERTIFICATE', chain[0] as Buffer));
    dir.write('artifact', artifact);
    leafFrom = Date.parse(new X509Certificate(chain[0] as Buffer).validFrom);
  });
  afterAll(() => dir.cleanup());

  /** `timestamp-cli verify` of the response `token` against chain.pem (leaf, root). */
  const cliVerify = (token: Buffer, name: string) =>
    runCli([
      'verify',
      '--artifact',
      dir.path('artifact'),
      '--timestamp',
      dir.write(name, token),
      '--certificate-chain',
      dir.path('chain.pem'),
    ]);

  it('writes the extension openssl reads: from the leaf notBefore, an hour long', async () => {
    const text = await openssl(['x509', '-in', dir.path('leaf.pem'), '-noout', '-text']);
    const match =
      /X509v3 Private Key Usage Period: ?\n\s*Not Before: (.+ GMT), Not After: (.+ GMT)\n/.exec(
        text,
      );
    expect(match, text).not.toBeNull();
    expect(Date.parse(match![1]!)).toBe(leafFrom);
    expect(Date.parse(match![2]!)).toBe(leafFrom + HOUR);
    // Non-critical (RFC 3280 section 4.2.1.4): openssl writes "critical" after the name otherwise.
    expect(text).not.toMatch(/Private Key Usage Period: critical/);
  });

  it('the server starts with the leaf and issues tokens that verify', async () => {
    const server = await serverOver(dir);
    let token: Buffer;
    try {
      const response = await fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          artifactHash: createHash('sha256').update(artifact).digest('base64'),
          hashAlgorithm: 'sha256',
          certificates: true,
        }),
      });
      expect(response.status).toBe(200);
      token = Buffer.from(await response.arrayBuffer());
    } finally {
      await server.close();
    }
    await expect(
      verifyTimestampResponse(token, artifact, { roots: [chain[1] as Buffer] }),
    ).resolves.toBeDefined();
    const verified = await cliVerify(token, 'issued.tsr');
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toBe(`Successfully verified timestamp ${dir.path('issued.tsr')}\n`);
    expect(verified.code).toBe(0);
  });

  it('timestamp-cli verify refuses a token the leaf key signed after the period, within the validity', async () => {
    const signer = await openKeyReference(dir.path('leaf.key'), 'sha256');
    const genTime = new Date(leafFrom + HOUR + 1000);
    const token = await encoderFor(signer, chain, false).encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('04', 'hex'),
      genTime,
    });
    const refused = await cliVerify(token, 'late.tsr');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `failed to verify timestamp: failed to verify TSA certificate: the token's genTime ${genTime.toISOString()} ` +
        `is outside its private key usage period, ${new Date(leafFrom).toISOString()} to ${new Date(leafFrom + HOUR).toISOString()}`,
    );
  });
});

/**
 * timestamp-cli certificates csr with `flags`, for `leaf.key` in `dir` (generated as `keyType`
 * when missing), to `leaf.csr` there.
 */
function csrFor(dir: ReturnType<typeof tempDir>, keyType: string, flags: string[]) {
  return runCli([
    'certificates',
    'csr',
    '--generate-keys',
    keyType,
    '--leaf-key',
    dir.path('leaf.key'),
    ...flags,
    '--output',
    dir.path('leaf.csr'),
  ]);
}

/** `openssl req -text` of a CSR whose signature OpenSSL verified. */
async function verifiedCsrText(path: string): Promise<string> {
  const text = await openssl(['req', '-in', path, '-verify', '-noout', '-text']);
  expect(text).toMatch(/verify OK/i);
  return text;
}

/**
 * Signs `leaf.csr` in `dir` into `leaf.pem` as a corporate CA would, copying the requested
 * extensions (OpenSSL's -copy_extensions copy); the CA is `ca.pem`, `ca.key` there. Any
 * self-signed certificate will do: openssl req -x509 makes it a CA (v3_ca).
 */
async function signAsCorporateCa(dir: ReturnType<typeof tempDir>): Promise<void> {
  const ca = selfSignedTls();
  dir.write('ca.key', ca.key);
  dir.write('ca.pem', ca.cert);
  await openssl([
    'x509',
    '-req',
    '-in',
    dir.path('leaf.csr'),
    '-CA',
    dir.path('ca.pem'),
    '-CAkey',
    dir.path('ca.key'),
    '-CAcreateserial',
    '-copy_extensions',
    'copy',
    '-days',
    '10',
    '-out',
    dir.path('leaf.pem'),
  ]);
}

describe('timestamp-cli certificates csr', () => {
  it('writes a CSR for the leaf key that openssl verifies, asking for the TSA extensions', async () => {
    const dir = tempDir();
    try {
      const result = await csrFor(dir, 'ecdsa-p384', [
        '--common-name',
        'Corp TSA',
        '--organization',
        'Corp',
      ]);
      expect(result.code).toBe(0);
      const text = await verifiedCsrText(dir.path('leaf.csr'));
      expect(text).toContain('Subject: O = Corp, CN = Corp TSA');
      expect(text).toMatch(/X509v3 Extended Key Usage: critical\s+Time Stamping/);
      expect(text).toContain('ecdsa-with-SHA384');
      // The corporate CA path: a CA signs it, copying the requested extensions; the result is a TSA leaf.
      await signAsCorporateCa(dir);
      expect(
        await openssl([
          'verify',
          '-purpose',
          'timestampsign',
          '-CAfile',
          dir.path('ca.pem'),
          dir.path('leaf.pem'),
        ]),
      ).toContain(': OK');
    } finally {
      dir.cleanup();
    }
  });

  it('--private-key-usage-period asks for the period; a CA that copies the requested extensions issues a leaf whose period the server reads', async () => {
    const dir = tempDir();
    try {
      const result = await csrFor(dir, 'ecdsa-p256', [
        '--not-before',
        '2026-01-01T00:00:00Z',
        '--private-key-usage-period',
        '8760h',
      ]);
      expect(result.code).toBe(0);
      const text = await verifiedCsrText(dir.path('leaf.csr'));
      expect(text).toMatch(
        /X509v3 Private Key Usage Period: \s+Not Before: Jan {2}1 00:00:00 2026 GMT, Not After: Jan {2}1 00:00:00 2027 GMT/,
      );
      await signAsCorporateCa(dir);
      const [leaf] = decodeCertificatesPem(readFileSync(dir.path('leaf.pem'), 'utf8'));
      expect(privateKeyUsagePeriod(parseCertificate(leaf!))).toEqual({
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2027-01-01T00:00:00Z'),
      });
    } finally {
      dir.cleanup();
    }
  });

  it('refuses --not-before without --private-key-usage-period, before any key is made', async () => {
    const dir = tempDir();
    try {
      const result = await csrFor(dir, 'ecdsa-p256', ['--not-before', '2026-01-01T00:00:00Z']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        '--not-before starts the privateKeyUsagePeriod a CSR asks for: give --private-key-usage-period too',
      );
      expect(() => statSync(dir.path('leaf.key'))).toThrow(/ENOENT/);
    } finally {
      dir.cleanup();
    }
  });
});

describe.each([
  ['ecdsa-p384', 'sha384'],
  ['rsa-2048', 'sha256'],
  // OpenSSL 3.0's PKCS7 code cannot verify Ed25519 CMS signatures at all (eddsa "invalid digest"),
  // so Ed25519 tokens are checked by the library only.
  ['ed25519', 'sha512'],
] as const)('a %s chain signs tokens that verify', (keyType, hash) => {
  it(`with the library and openssl ts -verify (${hash})`, async () => {
    const dir = tempDir();
    try {
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
        '--output',
        dir.path('chain.pem'),
      ]);
      expect(made.code).toBe(0);
      const chain = decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8'));
      const signer = await openKeyReference(dir.path('leaf.key'), hash);
      await selfTest(signer, parseCertificate(chain[0] as Buffer));
      const token = await encoderFor(signer, chain, true).encode({
        request: acceptedRequest({ artifact }),
        serialNumber: Buffer.from('02', 'hex'),
        genTime: new Date(),
      });
      const timestamp = await verifyTimestampResponse(token, artifact, {
        roots: [chain[2] as Buffer],
      });
      expect(timestamp.signer.digestAlgorithm).toBe(hash);
      if (keyType === 'ed25519') return;
      dir.write('token.tsr', token);
      dir.write('artifact', artifact);
      dir.write('root.pem', encodePem('CERTIFICATE', chain[2] as Buffer));
      const output = await openssl([
        'ts',
        '-verify',
        '-in',
        dir.path('token.tsr'),
        '-data',
        dir.path('artifact'),
        '-CAfile',
        dir.path('root.pem'),
      ]);
      expect(output).toContain('Verification: OK');
    } finally {
      dir.cleanup();
    }
  });
});
