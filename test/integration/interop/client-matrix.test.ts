/**
 * The client matrix: tokens from a real server for every key type, signer hash and request hash,
 * checked by OpenSSL (`ts -verify`), Bouncy Castle (TimeStampResponse/TimeStampToken.validate,
 * one JVM for all tokens) and sigstore-js (@sigstore/verify over a sigstore bundle and a trusted
 * root made from our chain). Where a client cannot check a token by a limitation of its own, the test
 * asserts that limitation, so the table in docs/api.md (generated here) stays honest.
 *
 * `UPDATE_CLIENT_MATRIX=1 npx vitest run test/integration/interop/client-matrix.test.ts` rewrites
 * the docs/api.md section between the client-matrix markers, naming the client versions installed.
 * The section is checked against the table made for the versions it names, so a machine with other
 * versions of OpenSSL or Bouncy Castle passes; there a limitation known for other versions only may
 * hold or be gone (the token is accepted, or refused for that reason).
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKey, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASHES, HASH_NAMES, type HashName } from '../../../src/asn1/algorithms.js';
import { oidContent } from '../../../src/asn1/der.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { encodePem } from '../../../src/x509/pem.js';
import { encodeTimeStampReq } from '../../helpers/encode-request.js';
import { TSA_KEY_TYPES, type TsaKeyType } from '../../helpers/key-types.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';
import { silentLogger } from '../../helpers/tsa.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';

const run = promisify(execFile);
const BC_CLASSPATH = ['bcprov', 'bcutil', 'bcpkix'].map((jar) => `/usr/share/java/${jar}.jar`);
const MATRIX_DOC = join(REPO_ROOT, 'docs', 'api.md');
const MARKERS = ['<!-- client-matrix:start -->', '<!-- client-matrix:end -->'] as const;

type ClientId = 'openssl' | 'bouncycastle' | 'sigstore';

interface Limitation {
  /** The client's own limitation, as docs/api.md states it. */
  reason: string;
  /**
   * The client versions (as in the column header) this test found it in; absent: every version.
   * On another version it may be gone: see the module comment.
   */
  versions?: RegExp;
  applies: (key: TsaKeyType, signerHash: HashName, requestHash: HashName) => boolean;
  /** What the client says when it hits the limitation. */
  error: RegExp;
}

interface Client {
  id: ClientId;
  /** Column header in docs/api.md, from the version installed. */
  title: (version: string) => string;
  limitations: Limitation[];
}

const CLIENTS: Client[] = [
  {
    id: 'openssl',
    title: (version) => `OpenSSL ${version} \`ts -verify\``,
    limitations: [
      {
        reason:
          'OpenSSL 3.0 verifies the SignerInfo with its PKCS#7 code, which cannot verify Ed25519 ("operation not supported for this keytype")',
        versions: /^3\.0$/,
        applies: (key) => key.algorithm === 'Ed25519',
        error:
          /operation not supported for this keytype[\s\S]*PKCS7_signatureVerify:signature failure/,
      },
    ],
  },
  {
    id: 'bouncycastle',
    title: (version) => `Bouncy Castle ${version} \`TimeStampToken.validate\``,
    limitations: [],
  },
  {
    id: 'sigstore',
    title: (version) => `sigstore-js \`@sigstore/verify\` ${version}`,
    limitations: [
      {
        reason:
          "@sigstore/core reads only ECDSA signature algorithm OIDs; for an RSA token it falls back to the key's default digest, SHA-256, so RSA tokens verify only with `--timestamp-signer-hash sha256`",
        applies: (key, signerHash) => key.algorithm.startsWith('RSA') && signerHash !== 'sha256',
        error: /^TIMESTAMP_ERROR: timestamp could not be verified$/,
      },
    ],
  },
];

/** One token per server and request hash, and a sigstore token over the artifact signature. */
interface Case {
  name: string;
  key: TsaKeyType;
  signerHash: HashName;
  requestHash: HashName;
  dir: string;
  sigstoreResponse: Buffer;
}

interface Verdict {
  accepted: boolean;
  detail: string;
}

const work = tempDir();
const pki = new OpensslPki(work.dir);
const cases: Case[] = [];
const chains = new Map<TsaKeyType, Buffer[]>();
const verdicts = new Map<string, Verdict>();
const versions = new Map<ClientId, string>();
const verdictKey = (client: ClientId, name: string) => `${client}/${name}`;

// The artifact signature sigstore timestamps (the token's messageImprint is over these bytes).
const artifact = Buffer.from('an artifact for the client matrix\n');
const artifactKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const artifactSignature = sign('sha256', artifact, artifactKey.privateKey);

async function post(url: string, body: Buffer, contentType: string): Promise<Buffer> {
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  const reply = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${reply.toString()}`);
  return reply;
}

/** A DER request over the artifact signature, with a nonce and certReq, as openssl writes one. */
function derRequest(requestHash: HashName): Buffer {
  return encodeTimeStampReq({
    version: 1n,
    hashAlgorithmOid: oidContent(HASHES[requestHash].oid),
    hashParametersNull: true,
    hashedMessage: createHash(requestHash).update(artifactSignature).digest(),
    nonce: BigInt(`0x${randomBytes(8).toString('hex')}`),
    certReq: true,
  });
}

/** One server per key type and signer hash; two tokens per request hash from each. */
async function issueTokens(key: TsaKeyType): Promise<void> {
  const leaf = `leaf-${key.algorithm}`;
  await pki.key(leaf, key.algorithm);
  await pki.cert(leaf, { subject: '/O=test/CN=Test TSA', ext: EXT.leaf, issuer: 'intermediate' });
  const chainPem = pki.chain(`chain-${key.algorithm}.pem`, leaf, 'intermediate', 'root');
  for (const signerHash of key.signerHashes) {
    const server = await startServer(
      resolveServeConfig({
        port: 0,
        metricsPort: 0,
        disableNtpMonitoring: true,
        timestampSigner: 'file',
        fileSignerKeyPath: pki.path(`${leaf}.key`),
        certificateChainPath: chainPem,
        timestampSignerHash: signerHash,
        ...key.flags,
      }),
      silentLogger,
    );
    try {
      chains.set(
        key,
        server.chain.map((certificate) => certificate.der),
      );
      for (const requestHash of HASH_NAMES) {
        const name = `${key.algorithm}-${signerHash}-${requestHash}`;
        const dir = join(work.dir, name);
        mkdirSync(dir);
        const request = derRequest(requestHash);
        writeFileSync(join(dir, 'request.tsq'), request);
        writeFileSync(
          join(dir, 'response.tsr'),
          await post(server.url, request, 'application/timestamp-query'),
        );
        writeFileSync(join(dir, 'chain.pem'), readFileSync(chainPem));
        // As @sigstore/sign asks: a JSON request over the signature, no certificates, no nonce.
        const json = JSON.stringify({
          artifactHash: createHash(requestHash).update(artifactSignature).digest('base64'),
          hashAlgorithm: requestHash,
        });
        const sigstoreResponse = await post(server.url, Buffer.from(json), 'application/json');
        cases.push({ name, key, signerHash, requestHash, dir, sigstoreResponse });
      }
    } finally {
      await server.close();
    }
  }
}

async function checkWithOpenssl(item: Case, queryFile = join(item.dir, 'request.tsq')) {
  const intermediates = join(item.dir, 'intermediates.pem');
  writeFileSync(
    intermediates,
    (chains.get(item.key) ?? [])
      .slice(1, -1)
      .map((der) => encodePem('CERTIFICATE', der))
      .join(''),
  );
  try {
    const output = await opensslTsVerify(
      join(item.dir, 'response.tsr'),
      { queryfile: queryFile },
      { root: pki.path('root.pem'), untrusted: intermediates },
    );
    return { accepted: /^Verification: OK$/m.test(output), detail: output };
  } catch (error) {
    return { accepted: false, detail: (error as Error).message };
  }
}

/** Compiles the driver and checks every directory in one JVM; verdicts by directory name. */
async function checkWithBouncyCastle(dirs: string[]): Promise<Map<string, Verdict>> {
  const classes = join(work.dir, 'classes');
  const classpath = BC_CLASSPATH.join(':');
  const source = join(REPO_ROOT, 'test', 'integration', 'interop', 'java', 'TokenCheck.java');
  await run('javac', ['-d', classes, '-cp', classpath, source]);
  const { stdout } = await run('java', ['-cp', `${classes}:${classpath}`, 'TokenCheck', ...dirs]);
  const result = new Map<string, Verdict>();
  for (const line of stdout.trim().split('\n')) {
    const [name = '', status = '', detail = ''] = line.split('\t');
    if (name === '#version') versions.set('bouncycastle', status);
    else result.set(name, { accepted: status === 'OK', detail });
  }
  return result;
}

/** A trusted_root.json as a sigstore user writes it: our chain as the TSA's certificate authority. */
function trustedRoot(chain: Buffer[]) {
  return TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [
      {
        subject: { organization: 'test', commonName: 'Test TSA' },
        uri: 'http://127.0.0.1',
        certChain: { certificates: chain.map((der) => ({ rawBytes: der.toString('base64') })) },
        validFor: { start: '2000-01-01T00:00:00Z' },
      },
    ],
  });
}

/** Verifies a sigstore message-signature bundle whose RFC 3161 timestamp is `response`. */
function checkWithSigstore(
  response: Buffer,
  chain: Buffer[],
  signature = artifactSignature,
): Verdict {
  const bundle = bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: 'artifact-key' },
      tlogEntries: [],
      timestampVerificationData: {
        rfc3161Timestamps: [{ signedTimestamp: response.toString('base64') }],
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
  const keys = {
    'artifact-key': PublicKey.fromJSON({
      rawBytes: artifactKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFor: { start: '2000-01-01T00:00:00Z' },
    }),
  };
  const verifier = new Verifier(toTrustMaterial(trustedRoot(chain), keys), {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 1,
  });
  try {
    verifier.verify(toSignedEntity(bundle, artifact));
    return { accepted: true, detail: 'verified' };
  } catch (error) {
    const failure = error as Error & { code?: string };
    return { accepted: false, detail: `${failure.code ?? failure.name}: ${failure.message}` };
  }
}

/** Two tokens of the first key type (which every client accepts) and one of the second. */
function controlCases(): [Case, Case, Case] {
  const [key, otherKey] = TSA_KEY_TYPES;
  const own = cases.filter((item) => item.key === key);
  return [own[0]!, own[1]!, cases.find((item) => item.key === otherKey)!];
}

/** The version of `client` installed here (as in its column header). */
function installedVersion(client: Client): string {
  return versions.get(client.id) ?? '?';
}

/** The limitation of `client`'s `version` that `item` meets, if any. */
function limitationOf(client: Client, item: Case, version: string): Limitation | undefined {
  return client.limitations.find(
    (limitation) =>
      (limitation.versions?.test(version) ?? true) &&
      limitation.applies(item.key, item.signerHash, item.requestHash),
  );
}

/** A limitation `item` meets in other versions of `client` only: in `version`, maybe gone. */
function limitationElsewhere(client: Client, item: Case, version: string): Limitation | undefined {
  return client.limitations.find(
    (limitation) =>
      limitation.versions !== undefined &&
      !limitation.versions.test(version) &&
      limitation.applies(item.key, item.signerHash, item.requestHash),
  );
}

/** The client versions the header of docs/api.md's table names. */
function documentedVersions(section: string): Map<ClientId, string> {
  const header = section.split('\n')[1] ?? '';
  const cells = header.split('|').map((cell) => cell.trim());
  const documented = new Map<ClientId, string>();
  for (const client of CLIENTS) {
    const [before = '', after = ''] = client.title('\0').split('\0');
    const cell = cells.find(
      (text) =>
        text.length > before.length + after.length &&
        text.startsWith(before) &&
        text.endsWith(after),
    );
    documented.set(client.id, cell?.slice(before.length, cell.length - after.length) ?? '?');
  }
  return documented;
}

/**
 * The docs/api.md section for the client `versions` given: one row per key type, one column per
 * client, the limitations of those versions as footnotes.
 */
function matrixMarkdown(versions: ReadonlyMap<ClientId, string>): string {
  const versionOf = (client: Client) => versions.get(client.id) ?? '?';
  const footnotes = CLIENTS.flatMap((client) =>
    client.limitations.filter((limitation) => limitation.versions?.test(versionOf(client)) ?? true),
  );
  const outcome = (client: Client, item: Case) => {
    const limitation = limitationOf(client, item, versionOf(client));
    return limitation ? `no (${footnotes.indexOf(limitation) + 1})` : 'yes';
  };
  /** "yes", or the outcomes grouped by signer hash, then by request hash. */
  const cell = (client: Client, key: TsaKeyType) => {
    const bySigner = key.signerHashes.map((signerHash) => {
      const row = cases.filter((item) => item.key === key && item.signerHash === signerHash);
      const outcomes = [...new Set(row.map((item) => outcome(client, item)))];
      const text =
        outcomes.length === 1
          ? outcomes[0]!
          : row.map((item) => `request ${item.requestHash}: ${outcome(client, item)}`).join(', ');
      return { signerHash, text };
    });
    const texts = [...new Set(bySigner.map((entry) => entry.text))];
    if (texts.length === 1) return texts[0]!;
    return texts
      .map((text) => {
        const hashes = bySigner
          .filter((entry) => entry.text === text)
          .map((entry) => entry.signerHash);
        return `signer ${hashes.join(', ')}: ${text}`;
      })
      .join('; ');
  };
  const header = [
    'TSA key (`--timestamp-signer-hash`)',
    ...CLIENTS.map((client) => client.title(versionOf(client))),
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...TSA_KEY_TYPES.map(
      (key) =>
        `| ${key.label} (${HASH_NAMES.filter((hash) => key.signerHashes.includes(hash)).join(', ')}) | ${CLIENTS.map((client) => cell(client, key)).join(' | ')} |`,
    ),
    '',
    ...footnotes.map((limitation, index) => `${index + 1}. ${limitation.reason}.`),
  ];
  return lines.join('\n');
}

beforeAll(async () => {
  // Bouncy Castle is a test dependency (scripts/install-test-deps.sh); fail with the fix if missing.
  for (const jar of BC_CLASSPATH) {
    if (!existsSync(jar)) throw new Error(`${jar} is missing: run \`make test-deps\``);
  }
  await pki.key('root');
  await pki.cert('root', { subject: '/O=test/CN=Test Root', ext: EXT.root, days: 3650 });
  await pki.key('intermediate');
  await pki.cert('intermediate', {
    subject: '/O=test/CN=Test Intermediate',
    ext: EXT.intermediate,
    issuer: 'root',
  });
  await Promise.all(TSA_KEY_TYPES.map(issueTokens));

  // Two tokens Bouncy Castle must refuse: a response to another request, a token of another TSA.
  const [first, second, other] = controlCases();
  const mismatched = join(work.dir, 'mismatched-request');
  const wrongTsa = join(work.dir, 'wrong-tsa');
  for (const [dir, request, response, chain] of [
    [mismatched, second.dir, first.dir, first.dir],
    [wrongTsa, first.dir, first.dir, other.dir],
  ] as const) {
    mkdirSync(dir);
    writeFileSync(join(dir, 'request.tsq'), readFileSync(join(request, 'request.tsq')));
    writeFileSync(join(dir, 'response.tsr'), readFileSync(join(response, 'response.tsr')));
    writeFileSync(join(dir, 'chain.pem'), readFileSync(join(chain, 'chain.pem')));
  }
  const bouncyCastle = checkWithBouncyCastle([
    ...cases.map((item) => item.dir),
    mismatched,
    wrongTsa,
  ]);

  versions.set('openssl', /^OpenSSL (\d+\.\d+)/.exec(await openssl(['version']))?.[1] ?? '?');
  const sigstorePackage = JSON.parse(
    readFileSync(join(REPO_ROOT, 'node_modules', '@sigstore', 'verify', 'package.json'), 'utf8'),
  ) as { version: string };
  versions.set('sigstore', sigstorePackage.version.split('.').slice(0, 2).join('.'));

  const opensslVerdicts = await Promise.all(cases.map((item) => checkWithOpenssl(item)));
  cases.forEach((item, index) => {
    verdicts.set(verdictKey('openssl', item.name), opensslVerdicts[index]!);
    verdicts.set(
      verdictKey('sigstore', item.name),
      checkWithSigstore(item.sigstoreResponse, chains.get(item.key) ?? []),
    );
  });
  for (const [name, verdict] of await bouncyCastle) {
    verdicts.set(verdictKey('bouncycastle', name), verdict);
  }
}, 180_000);
afterAll(() => work.cleanup());

describe('client matrix', () => {
  const rows = CLIENTS.flatMap((client) => TSA_KEY_TYPES.map((key) => ({ client, key })));
  it.each(rows)('$client.id checks $key.label tokens', ({ client, key }) => {
    const own = cases.filter((item) => item.key === key);
    expect(own).toHaveLength(key.signerHashes.length * HASH_NAMES.length);
    const version = installedVersion(client);
    for (const item of own) {
      const verdict = verdicts.get(verdictKey(client.id, item.name));
      const limitation = limitationOf(client, item, version);
      const elsewhere = limitationElsewhere(client, item, version);
      if (limitation) {
        expect(verdict?.accepted, item.name).toBe(false);
        expect(verdict?.detail, item.name).toMatch(limitation.error);
      } else if (elsewhere && !verdict?.accepted) {
        // Known in other versions of the client: still there in this one.
        expect(verdict?.detail, `${item.name} (${client.title(version)})`).toMatch(elsewhere.error);
      } else {
        expect(verdict?.accepted, `${item.name}: ${verdict?.detail}`).toBe(true);
      }
    }
  });

  it('every known limitation is met by some token (none is stale)', () => {
    for (const client of CLIENTS) {
      for (const limitation of client.limitations) {
        expect(
          cases.some((item) => limitation.applies(item.key, item.signerHash, item.requestHash)),
        ).toBe(true);
      }
    }
  });

  it('each client refuses a token that does not match', async () => {
    const [first, second, other] = controlCases();
    expect(verdicts.get(verdictKey('bouncycastle', 'mismatched-request'))).toEqual({
      accepted: false,
      detail: expect.stringMatching(/^TimeStampResponse\.validate: .*TSPValidationException/),
    });
    expect(verdicts.get(verdictKey('bouncycastle', 'wrong-tsa'))).toEqual({
      accepted: false,
      detail: expect.stringMatching(/^TimeStampToken\.validate: /),
    });
    const openssl = await checkWithOpenssl(first, join(second.dir, 'request.tsq'));
    expect(openssl).toEqual({ accepted: false, detail: expect.stringMatching(/mismatch/) });
    const chain = chains.get(first.key) ?? [];
    expect(checkWithSigstore(first.sigstoreResponse, chain, Buffer.from('other'))).toEqual({
      accepted: false,
      detail: 'TIMESTAMP_ERROR: timestamp could not be verified',
    });
    expect(checkWithSigstore(first.sigstoreResponse, chains.get(other.key) ?? [])).toEqual({
      accepted: false,
      detail: 'TIMESTAMP_ERROR: timestamp could not be verified',
    });
  });

  it('docs/api.md publishes this matrix (UPDATE_CLIENT_MATRIX=1 rewrites it)', () => {
    const readme = readFileSync(MATRIX_DOC, 'utf8');
    const start = readme.indexOf(MARKERS[0]);
    const end = readme.indexOf(MARKERS[1]);
    expect(start, 'docs/api.md has the client-matrix markers').toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const current = readme.slice(start, end + MARKERS[1].length);
    const section = (table: string) => `${MARKERS[0]}\n${table}\n${MARKERS[1]}`;
    if (process.env['UPDATE_CLIENT_MATRIX'] === '1') {
      // Only for versions where every limitation is known to hold or not.
      const unsettled = CLIENTS.flatMap((client) =>
        cases
          .filter((item) => limitationElsewhere(client, item, installedVersion(client)))
          .map((item) => `${client.title(installedVersion(client))}: ${item.name}`),
      );
      expect(
        unsettled,
        'limitations not known for the versions installed: check them, extend their versions',
      ).toEqual([]);
      writeFileSync(MATRIX_DOC, readme.replace(current, section(matrixMarkdown(versions))));
    } else {
      // The table for the versions docs/api.md names, whichever are installed here.
      const documented = documentedVersions(current);
      expect(current, 'run with UPDATE_CLIENT_MATRIX=1 to rewrite docs/api.md').toBe(
        section(matrixMarkdown(documented)),
      );
    }
  });
});
