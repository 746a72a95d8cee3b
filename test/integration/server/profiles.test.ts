/**
 * Two profiles in one server (config file `profiles:`): the default one (memory P-256) and `rsa`
 * (file RSA-3072, policy 1.2.3.4.100). Each token is verified by openssl against its own chain
 * and refused against the other's; osslsigncode accepts the RSA one; the trusted root validates
 * against the protobuf-specs schema and sigstore-js and our verifier accept tokens with it.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKey, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/config/config-file.js';
import { resolveLayers } from '../../../src/config/resolve.js';
import { registry } from '../../../src/metrics/registry.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { readTrustedRoot, verifyWithTrustedRoot } from '../../../src/verify/trusted-root.js';
import { encodePem } from '../../../src/x509/pem.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { signScriptWithTimestamp, verifySignedScript } from '../../helpers/osslsigncode.js';
import { silentLogger } from '../../helpers/tsa.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';

const RSA_POLICY = '1.2.3.4.100';
const dir = tempDir();
const pki = new OpensslPki(dir.dir);
let server: RunningServer;

/** root.pem (trusted) and untrusted.pem (the rest) of a PEM chain, under `name`-. */
function splitChain(name: string, pem: string) {
  const ders = decodeCertificatesPem(pem);
  const root = dir.write(`${name}-root.pem`, encodePem('CERTIFICATE', ders.at(-1)!));
  const untrusted = dir.write(
    `${name}-untrusted.pem`,
    ders
      .slice(0, -1)
      .map((der) => encodePem('CERTIFICATE', der))
      .join(''),
  );
  return { root, untrusted };
}
let chains: Record<'default' | 'rsa', { root: string; untrusted: string }>;

beforeAll(async () => {
  await pki.key('rsa-root');
  await pki.cert('rsa-root', { subject: '/O=test/CN=RSA Root', ext: EXT.root, days: 3650 });
  await pki.key('rsa-leaf', 'RSA-3072');
  await pki.cert('rsa-leaf', { subject: '/O=test/CN=RSA TSA', ext: EXT.leaf, issuer: 'rsa-root' });
  const rsaChain = pki.chain('rsa-chain.pem', 'rsa-leaf', 'rsa-root');
  const config = dir.write(
    'timestamp-server.yaml',
    [
      'port: 0',
      'metrics-port: 0',
      'disable-ntp-monitoring: true',
      'include-chain-in-response: true',
      `audit-log: ${dir.path('audit.log')}`,
      'profiles:',
      '  - name: rsa',
      `    policy-oids: [${RSA_POLICY}, 1.2.3.4.101]`,
      '    timestamp-signer: file',
      `    file-signer-key-path: ${pki.path('rsa-leaf.key')}`,
      `    certificate-chain-path: ${rsaChain}`,
      '    timestamp-signer-hash: sha256',
      '    include-chain-in-response: true',
      '    accuracy: 2s',
      '',
    ].join('\n'),
  );
  server = await startServer(resolveLayers([readConfigFile(config)]).config, silentLogger);
  chains = {
    default: splitChain(
      'default',
      await (await fetch(`${server.url}/api/v1/timestamp/certchain`)).text(),
    ),
    rsa: splitChain(
      'rsa',
      await (await fetch(`${server.url}/api/v1/timestamp/rsa/certchain`)).text(),
    ),
  };
});
afterAll(async () => {
  await server?.close();
  dir.cleanup();
});

async function post(path: string, body: Buffer | string, type: string) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body,
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

let counter = 0;
/** An openssl query (certReq, optional policy) posted to `path`; the reply and its data file. */
async function derToken(path: string, policy?: string) {
  const data = dir.write(`data-${++counter}.txt`, `artifact ${counter}`);
  const query = dir.path(`q-${counter}.tsq`);
  const args = ['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query];
  if (policy) args.push('-tspolicy', policy);
  await openssl(args);
  const reply = await post(path, readFileSync(query), 'application/timestamp-query');
  return { ...reply, data, reply: dir.write(`r-${counter}.tsr`, reply.body) };
}

async function jsonToken(policy?: string) {
  const data = dir.write(`data-${++counter}.txt`, `artifact ${counter}`);
  const digest = createHash('sha256').update(readFileSync(data)).digest('base64');
  const body = JSON.stringify({
    artifactHash: digest,
    hashAlgorithm: 'sha256',
    certificates: true,
    ...(policy ? { tsaPolicyOID: policy } : {}),
  });
  const reply = await post('/api/v1/timestamp', body, 'application/json');
  return { ...reply, data, reply: dir.write(`r-${counter}.tsr`, reply.body) };
}

/** openssl ts -verify against a profile's chain: true when it verifies. */
async function verifiesWith(token: { reply: string; data: string }, chain: 'default' | 'rsa') {
  return opensslTsVerify(token.reply, { data: token.data }, chains[chain])
    .then((out) => /Verification: OK/.test(out))
    .catch(() => false);
}

const replyText = (token: { reply: string }) =>
  openssl(['ts', '-reply', '-in', token.reply, '-text']);

describe('profiles', () => {
  it.each([
    ['by path', () => derToken('/api/v1/timestamp/rsa')],
    ['by DER reqPolicy', () => derToken('/api/v1/timestamp', RSA_POLICY)],
    ['by JSON tsaPolicyOID', () => jsonToken(RSA_POLICY)],
  ])('serves the rsa profile %s', async (_how, make) => {
    const token = await make();
    expect(token.status).toBe(200);
    const text = await replyText(token);
    expect(text).toMatch(/Status: Granted/);
    expect(text).toMatch(new RegExp(`Policy OID: ${RSA_POLICY.replace(/\./g, '\\.')}`));
    expect(text).toMatch(/Accuracy: 0x02 seconds/);
    expect(await verifiesWith(token, 'rsa')).toBe(true);
    expect(await verifiesWith(token, 'default')).toBe(false);
  });

  it('serves the default profile to a request naming no policy, or the default policy', async () => {
    for (const token of [
      await derToken('/api/v1/timestamp'),
      await jsonToken(),
      await derToken('/api/v1/timestamp', '1.3.6.1.4.1.57264.2'),
    ]) {
      expect(token.status).toBe(200);
      expect(await replyText(token)).toMatch(/Policy OID: 1\.3\.6\.1\.4\.1\.57264\.2/);
      expect(await verifiesWith(token, 'default')).toBe(true);
      expect(await verifiesWith(token, 'rsa')).toBe(false);
    }
  });

  it("refuses a policy no profile accepts, and another profile's policy on a profile path", async () => {
    for (const token of [
      await derToken('/api/v1/timestamp', '1.2.3.4.999'),
      await derToken('/api/v1/timestamp/rsa', '1.3.6.1.4.1.57264.2'),
    ]) {
      const text = await replyText(token);
      expect(text).toMatch(/Status: Rejected/);
      expect(text).toMatch(/unaccepted policy/i);
    }
    const json = await jsonToken('1.2.3.4.999');
    expect(json.status).toBe(400);
  });

  it('serves each chain, reports each profile in /readyz, and counts by profile', async () => {
    expect((await fetch(`${server.url}/api/v1/timestamp/rsa`)).status).toBe(405);
    // Cached briefly, never `immutable`: a key rotation changes the chain at the same URL.
    expect(
      (await fetch(`${server.url}/api/v1/timestamp/rsa/certchain`)).headers.get('cache-control'),
    ).toBe('max-age=3600');
    const readyz = await fetch(`${server.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toBe('ok\ndefault: ok\nrsa: ok');
    const metrics = await registry.getSingleMetricAsString(
      'timestamp_authority_profile_issuance_total',
    );
    expect(metrics).toMatch(/profile="rsa",outcome="granted",fail_info="none"} [1-9]/);
    expect(metrics).toMatch(/profile="default",outcome="granted",fail_info="none"} [1-9]/);
  });

  it('writes the profile in the audit records', async () => {
    await derToken('/api/v1/timestamp/rsa');
    const records = readFileSync(dir.path('audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { profile?: string; policy?: string; status: string });
    expect(
      records.some((r) => r.profile === 'rsa' && r.policy === RSA_POLICY && r.status === 'granted'),
    ).toBe(true);
    expect(records.some((r) => r.profile === 'default' && r.status === 'granted')).toBe(true);
  });

  it("osslsigncode accepts the rsa profile's token", async () => {
    await signScriptWithTimestamp(dir, `${server.url}/api/v1/timestamp/rsa`);
    const verify = (tsaRoot: string) => verifySignedScript(dir, tsaRoot);
    expect(await verify(chains.rsa.root)).toMatch(/Timestamp Server Signature verification: ok/);
    expect(await verify(chains.default.root)).not.toMatch(
      /Timestamp Server Signature verification: ok/,
    );
  });
});

describe('trusted root', () => {
  let text: string;
  let root: ReturnType<typeof JSON.parse>;
  beforeAll(async () => {
    const response = await fetch(`${server.url}/api/v1/timestamp/trusted-root`);
    expect(response.headers.get('content-type')).toBe(
      'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    );
    text = await response.text();
    root = JSON.parse(text);
  });

  it('validates against the protobuf-specs TrustedRoot schema, one entry per chain', () => {
    const schema = JSON.parse(
      readFileSync(
        new URL('../../fixtures/sigstore/trusted-root.schema.json', import.meta.url),
        'utf8',
      ),
    ) as object;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate(root), JSON.stringify(validate.errors)).toBe(true);
    expect(root.timestampAuthorities).toHaveLength(2);
    const uris = root.timestampAuthorities.map((entry: { uri: string }) => entry.uri).sort();
    expect(uris).toEqual([`${server.url}/api/v1/timestamp`, `${server.url}/api/v1/timestamp/rsa`]);
    // A broken entry does not validate (the schema is not vacuous).
    expect(validate({ ...root, timestampAuthorities: [{ certChain: {}, valid_for: {} }] })).toBe(
      false,
    );
  });

  it('lets sigstore-js verify a token of the default profile', async () => {
    const artifact = Buffer.from('signed artifact\n');
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signature = sign('sha256', artifact, keys.privateKey);
    const request = JSON.stringify({
      artifactHash: createHash('sha256').update(signature).digest('base64'),
      hashAlgorithm: 'sha256',
      certificates: true,
    });
    const token = await post('/api/v1/timestamp', request, 'application/json');
    const bundle = bundleFromJSON({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        publicKey: { hint: 'artifact-key' },
        tlogEntries: [],
        timestampVerificationData: {
          rfc3161Timestamps: [{ signedTimestamp: token.body.toString('base64') }],
        },
      },
      messageSignature: {
        messageDigest: {
          algorithm: 'SHA2_256',
          digest: createHash('sha256').update(artifact).digest('base64'),
        },
        signature: signature.toString('base64'),
      },
    });
    const material = (trusted: object) =>
      toTrustMaterial(TrustedRoot.fromJSON(trusted), {
        'artifact-key': PublicKey.fromJSON({
          rawBytes: keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2000-01-01T00:00:00Z' },
        }),
      });
    const options = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 };
    expect(() =>
      new Verifier(material(root), options).verify(toSignedEntity(bundle, artifact)),
    ).not.toThrow();
    // Only the rsa entry: the token's signer is not there.
    const rsaOnly = {
      ...root,
      timestampAuthorities: root.timestampAuthorities.filter((entry: { uri: string }) =>
        entry.uri.endsWith('/rsa'),
      ),
    };
    expect(() =>
      new Verifier(material(rsaOnly), options).verify(toSignedEntity(bundle, artifact)),
    ).toThrow();
  });

  it('verifies tokens of both profiles with verifyWithTrustedRoot (and timestamp-cli verify --trusted-root)', async () => {
    const authorities = readTrustedRoot(text);
    for (const token of [
      await derToken('/api/v1/timestamp/rsa'),
      await derToken('/api/v1/timestamp'),
    ]) {
      const verified = await verifyWithTrustedRoot(
        readFileSync(token.reply),
        readFileSync(token.data),
        authorities,
      );
      expect(verified.genTime).toBeInstanceOf(Date);
    }
    // A window that ends before the token: refused.
    const closed = authorities.map((entry) => ({ ...entry, end: new Date(0), start: new Date(0) }));
    const token = await derToken('/api/v1/timestamp/rsa');
    await expect(
      verifyWithTrustedRoot(readFileSync(token.reply), readFileSync(token.data), closed),
    ).rejects.toThrow(/outside the validity window/);
    writeFileSync(dir.path('trusted_root.json'), text);
  });
});
