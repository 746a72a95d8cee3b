import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { bitString, oid, sequence } from '../../src/asn1/der.js';
import { OID } from '../../src/asn1/oids.js';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { buildServer } from '../../src/server/app.js';
import { createAuthority } from '../../src/runtime/serve.js';
import { LocalKeySigner } from '../../src/signers/local-key.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
} from '../../src/x509/certificate-builder.js';
import { encodeName } from '../../src/x509/name.js';
import { encodePem } from '../../src/x509/pem.js';
import { openssl, tempDir } from './openssl.js';
import { silentLogger } from './tsa.js';

const DAY = 86_400_000;

/**
 * The same RSA key labelled id-RSASSA-PSS without parameters (RFC 4055 section 1.2): a certificate
 * holding it restricts the key to PSS, which makes a KMS signer sign PSS.
 */
export function asRsaPssKey(publicKey: KeyObject): KeyObject {
  // The subjectPublicKey is the RSAPublicKey either way: only the algorithm identifier changes.
  const rsaPublicKey = publicKey.export({ type: 'pkcs1', format: 'der' });
  return createPublicKey({
    key: sequence(sequence(oid(OID.rsassaPss)), bitString(rsaPublicKey)),
    format: 'der',
    type: 'spki',
  });
}

/**
 * Writes root.pem and chain.pem (leaf, root) in `dir` for a leaf holding `publicKey`: an
 * end-entity with a critical timeStamping EKU, as the start-up rules require.
 */
export async function writeChainFor(publicKey: KeyObject, dir: ReturnType<typeof tempDir>) {
  const rootKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rootSigner = new LocalKeySigner('test-root', rootKeys.privateKey, 'sha256');
  const rootSubject = { organization: 'test', commonName: 'Remote Signer Test Root' };
  const now = Date.now();
  const root = await createCertificate(
    {
      subject: rootSubject,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 365 * DAY),
      publicKey: rootKeys.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
    },
    'self-signed',
    rootSigner,
  );
  const leaf = await createCertificate(
    {
      subject: { organization: 'test', commonName: 'Remote Signer Test TSA' },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 300 * DAY),
      publicKey,
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    {
      name: encodeName(rootSubject),
      signer: rootSigner,
      subjectKeyIdentifier: subjectKeyIdentifier(rootKeys.publicKey),
    },
  );
  return {
    root: dir.write('root.pem', encodePem('CERTIFICATE', root)),
    chain: dir.write('chain.pem', encodePem('CERTIFICATE', leaf) + encodePem('CERTIFICATE', root)),
  };
}

/** An in-process TSA (not listening) built from flags, as `serve` builds it. */
export async function createFlagServer(flags: Partial<Record<ServeOptionName, unknown>>) {
  const config = resolveServeConfig(flags);
  const tsa = await createAuthority(config, silentLogger);
  const app = await buildServer({
    config,
    authority: tsa.authority,
    chainPem: tsa.chainPem,
    logger: silentLogger,
  });
  return {
    app,
    ...tsa,
    close: async () => {
      await app.close();
      await tsa.signer[Symbol.asyncDispose]();
    },
  };
}

type InjectApp = Awaited<ReturnType<typeof createFlagServer>>['app'];

/** Posts an openssl-made request (SHA-256, certReq) and returns the HTTP status and body. */
export async function requestToken(
  app: InjectApp,
  dir: ReturnType<typeof tempDir>,
  hash = 'sha256',
) {
  const data = dir.write('data.txt', `artifact ${Math.random()}`);
  const query = dir.path('request.tsq');
  await openssl(['ts', '-query', '-data', data, `-${hash}`, '-cert', '-out', query]);
  const { readFileSync } = await import('node:fs');
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'application/timestamp-query' },
    payload: readFileSync(query),
  });
  return { statusCode: response.statusCode, body: response.rawPayload, data };
}

/** Issues a token and checks it with `openssl ts -verify`; returns openssl's output. */
export async function issueAndVerify(
  app: InjectApp,
  dir: ReturnType<typeof tempDir>,
  rootPath: string,
  hash = 'sha256',
) {
  const { statusCode, body, data } = await requestToken(app, dir, hash);
  if (statusCode !== 200)
    throw new Error(`expected 200, got ${statusCode}: ${body.toString('hex')}`);
  const reply = dir.write('reply.tsr', body);
  return openssl(['ts', '-verify', '-in', reply, '-data', data, '-CAfile', rootPath]);
}

/** The PKIStatus and failInfo bits of a rejection TimeStampResp, via openssl. */
export async function replyStatus(body: Buffer, dir: ReturnType<typeof tempDir>): Promise<string> {
  const reply = dir.write('rejection.tsr', body);
  return openssl(['ts', '-reply', '-in', reply, '-text']);
}
