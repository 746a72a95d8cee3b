/**
 * The pkcs11 signer on SoftHSM2 keys: P-256, P-384, RSA-3072 (PKCS#1 v1.5, and PSS under an
 * id-RSASSA-PSS leaf) and Ed25519. Tokens verify with openssl; Ed25519 (which OpenSSL 3.0's ts
 * cannot check) with our verifier and Bouncy Castle.
 */
import { execFile } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../../../src/asn1/oids.js';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { createPkcs11Signer } from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { verifyTimestampResponse } from '../../../../src/verify/index.js';
import { decodeCertificatesPem } from '../../../helpers/pem.js';
import { openssl, tempDir } from '../../../helpers/openssl.js';
import {
  asRsaPssKey,
  createFlagServer,
  issueAndVerify,
  requestToken,
  writeChainFor,
} from '../../../helpers/remote-tsa.js';
import { REPO_ROOT } from '../../../helpers/process.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN, type HsmKeyType } from '../../../helpers/softhsm.js';

const run = promisify(execFile);
const hsm = new SoftHsm();
const dir = tempDir();

beforeAll(async () => {
  await hsm.initToken('tsa');
  const keys: [string, HsmKeyType, string][] = [
    ['p256', 'EC:prime256v1', '01'],
    ['p384', 'EC:secp384r1', '02'],
    ['rsa3072', 'rsa:3072', '03'],
    ['ed25519', 'EC:edwards25519', '04'],
  ];
  for (const [label, type, id] of keys) await hsm.keygen('tsa', label, type, id);
  // A key pair made again under the same CKA_ID (the old one kept), and one whose old public key
  // object was left behind (its private key deleted) with the same CKA_ID and label.
  await hsm.keygen('tsa', 'old-key', 'EC:prime256v1', '07');
  await hsm.keygen('tsa', 'new-key', 'EC:prime256v1', '07');
  await hsm.keygen('tsa', 'rotated', 'EC:prime256v1', '09');
  await run(
    'pkcs11-tool',
    [
      ...['--module', SOFTHSM_MODULE, '--token-label', 'tsa', '--login', '--pin', TEST_PIN],
      ...['--delete-object', '--type', 'privkey', '--label', 'rotated', '--id', '09'],
    ],
    { env: hsm.env },
  );
  await hsm.keygen('tsa', 'rotated', 'EC:prime256v1', '09');
});
afterAll(() => {
  hsm.cleanup();
  dir.cleanup();
});

/** A leaf for the HSM key (optionally as id-RSASSA-PSS) under a fresh root, and a server on it. */
async function serverFor(object: string, options: { pss?: boolean; hash?: string } = {}) {
  const uri = hsm.uri('tsa', object);
  const probe = await createPkcs11Signer(uri, 'auto');
  const publicKey = options.pss ? asRsaPssKey(probe.publicKey) : probe.publicKey;
  await probe[Symbol.asyncDispose]();
  const keyDir = join(dir.dir, object + (options.pss ? '-pss' : ''));
  mkdirSync(keyDir, { recursive: true });
  const files = await writeChainFor(publicKey, {
    ...dir,
    dir: keyDir,
    write: (name, data) => {
      writeFileSync(join(keyDir, name), data);
      return join(keyDir, name);
    },
  });
  const server = await createFlagServer({
    timestampSigner: 'pkcs11',
    pkcs11Uri: uri,
    certificateChainPath: files.chain,
    ...(options.hash ? { timestampSignerHash: options.hash } : {}),
  });
  return { server, ...files };
}

describe('pkcs11 signer on SoftHSM2', () => {
  it.each([
    ['p256', OID.ecdsaWithSHA256],
    ['p384', OID.ecdsaWithSHA384],
    ['rsa3072', OID.sha256WithRSAEncryption],
  ])('%s: tokens verify with openssl ts -verify', async (object, algorithmOid) => {
    const { server, root } = await serverFor(object);
    try {
      expect(server.signer.id).toBe('pkcs11:token=tsa;object=' + object);
      expect(server.signer.algorithm.oid).toBe(algorithmOid);
      expect(await issueAndVerify(server.app, dir, root)).toContain('Verification: OK');
    } finally {
      await server.close();
    }
  });

  it('rsa3072 under an id-RSASSA-PSS leaf signs CKM_RSA_PKCS_PSS, and openssl verifies it', async () => {
    const { server, root } = await serverFor('rsa3072', { pss: true });
    try {
      expect(server.signer.algorithm.oid).toBe(OID.rsassaPss);
      expect(server.signer.algorithm.pss).toBe(true);
      expect(await issueAndVerify(server.app, dir, root)).toContain('Verification: OK');
    } finally {
      await server.close();
    }
  });

  it('ed25519 (CKM_EDDSA): tokens verify with our verifier and with Bouncy Castle', async () => {
    const { server, root, chain } = await serverFor('ed25519');
    try {
      expect(server.signer.algorithm.oid).toBe(OID.ed25519);
      const { statusCode, body, data } = await requestToken(server.app, dir);
      expect(statusCode).toBe(200);
      const timestamp = await verifyTimestampResponse(body, readFileSync(data), {
        roots: [decodeCertificatesPem(readFileSync(root, 'utf8'))[0] as Buffer],
        intermediates: decodeCertificatesPem(readFileSync(chain, 'utf8')),
      });
      expect(timestamp.signer.signatureAlgorithmOid).toBe(OID.ed25519);

      // Bouncy Castle's TokenCheck: request.tsq, response.tsr and chain.pem in one directory.
      const check = join(dir.dir, 'bc-ed25519');
      mkdirSync(check);
      await openssl([
        'ts',
        '-query',
        '-data',
        data,
        '-sha256',
        '-cert',
        '-out',
        join(check, 'request.tsq'),
      ]);
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: readFileSync(join(check, 'request.tsq')),
      });
      expect(response.statusCode).toBe(200);
      writeFileSync(join(check, 'response.tsr'), response.rawPayload);
      writeFileSync(join(check, 'chain.pem'), readFileSync(chain));
      const classpath = ['bcprov', 'bcutil', 'bcpkix']
        .map((jar) => `/usr/share/java/${jar}.jar`)
        .join(':');
      const classes = join(dir.dir, 'classes');
      const source = join(REPO_ROOT, 'test', 'integration', 'interop', 'java', 'TokenCheck.java');
      await run('javac', ['-d', classes, '-cp', classpath, source]);
      const { stdout } = await run('java', ['-cp', `${classes}:${classpath}`, 'TokenCheck', check]);
      expect(stdout).toMatch(/^bc-ed25519\tOK\t/m);
    } finally {
      await server.close();
    }
  });

  it('two key pairs sharing a CKA_ID: each signer reads the public key of its own pair', async () => {
    const points = new Set<string>();
    for (const label of ['old-key', 'new-key', 'old-key', 'new-key']) {
      const signer = await createPkcs11Signer(hsm.uri('tsa', label), 'auto');
      try {
        const data = randomBytes(20);
        const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
        expect(verify(digest, data, key, await signer.sign(data)), label).toBe(true);
        points.add(
          `${label} ${signer.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')}`,
        );
      } finally {
        await signer[Symbol.asyncDispose]();
      }
    }
    expect(points.size).toBe(2); // each label, one public key every time
  });

  it('public key objects with the CKA_ID and label of the private key but different points: KEY_AMBIGUOUS', async () => {
    await expect(createPkcs11Signer(hsm.uri('tsa', 'rotated'), 'auto')).rejects.toMatchObject({
      code: 'KEY_AMBIGUOUS',
      message:
        "pkcs11:token=tsa;object=rotated: 2 public key objects have the private key's CKA_ID and label, with 2 different EC points: remove the stale one, or give each key pair a CKA_ID and a label of its own",
    });
  });

  it('refuses a digest the key cannot take (Ed25519 with SHA-256) at start-up', async () => {
    await expect(serverFor('ed25519', { hash: 'sha256' })).rejects.toThrow(
      /Ed25519 keys require the SHA-512 digest/,
    );
  });
});
