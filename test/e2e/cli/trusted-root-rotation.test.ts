/**
 * Key rotation as clients follow it: a token of the retired key still verifies with the trusted
 * root the server publishes after the switch (`previous-chains`), chosen by its signer and
 * genTime (`timestamp-cli verify --trusted-root`), and only inside its key's window.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import { readConfigFile } from '../../../src/config/config-file.js';
import { resolveLayers } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
} from '../../../src/x509/certificate-builder.js';
import { encodeName } from '../../../src/x509/name.js';
import { encodePem } from '../../../src/x509/pem.js';
import { runCli } from '../../helpers/cli.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { silentLogger } from '../../helpers/tsa.js';

const DAY = 86_400_000;
const NOW = Date.now();
const dir = tempDir();
afterAll(() => dir.cleanup());

const rootKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rootSigner = new LocalKeySigner('root', rootKeys.privateKey, 'sha256');
const rootSubject = { organization: 'test', commonName: 'Rotation Root' };
let rootPem: string;

/** A leaf key (file signer) and its chain under the one root, the leaf valid from `notBefore`. */
async function keyAndChain(name: string, notBefore: Date) {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = await createCertificate(
    {
      subject: { organization: 'test', commonName: `TSA ${name}` },
      notBefore,
      notAfter: new Date(NOW + 300 * DAY),
      publicKey: keys.publicKey,
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
    key: dir.write(`${name}.key`, exportKey(keys.privateKey)),
    chain: dir.write(`${name}-chain.pem`, encodePem('CERTIFICATE', leaf) + rootPem),
  };
}
const exportKey = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

let configs = 0;
/** Starts a server from config-file lines, runs `use`, stops it. */
async function withServer<T>(
  lines: string[],
  use: (url: string) => Promise<T>,
  logger = silentLogger,
): Promise<T> {
  const base = ['port: 0', 'metrics-port: 0', 'disable-ntp-monitoring: true'];
  const file = dir.write(`config-${++configs}.yaml`, [...base, ...lines, ''].join('\n'));
  const server = await startServer(resolveLayers([readConfigFile(file)]).config, logger);
  try {
    return await use(server.url);
  } finally {
    await server.close();
  }
}

let tokens = 0;
async function token(url: string) {
  const data = dir.write(`data-${++tokens}.txt`, `artifact ${tokens}`);
  const query = dir.path(`q-${tokens}.tsq`);
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(query),
  });
  expect(response.status).toBe(200);
  return { data, tsr: dir.write(`r-${tokens}.tsr`, Buffer.from(await response.arrayBuffer())) };
}

async function trustedRoot(url: string, name: string) {
  const text = await (await fetch(`${url}/api/v1/timestamp/trusted-root`)).text();
  return { path: dir.write(name, text), json: JSON.parse(text) as TrustedRootJson };
}
interface TrustedRootJson {
  timestampAuthorities: { validFor: { start: string; end: string }; certChain: object }[];
}

const verify = (issued: { data: string; tsr: string }, root: string) =>
  runCli(['verify', '--timestamp', issued.tsr, '--artifact', issued.data, '--trusted-root', root]);

const rfc3339 = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000', '');

let old: Awaited<ReturnType<typeof keyAndChain>>;
let next: Awaited<ReturnType<typeof keyAndChain>>;
let oldToken: Awaited<ReturnType<typeof token>>;
const RETIRED = NOW + 3_600_000;

beforeAll(async () => {
  const root = await createCertificate(
    {
      subject: rootSubject,
      notBefore: new Date(NOW - 30 * DAY),
      notAfter: new Date(NOW + 365 * DAY),
      publicKey: rootKeys.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
    },
    'self-signed',
    rootSigner,
  );
  rootPem = encodePem('CERTIFICATE', root);
  old = await keyAndChain('old', new Date(NOW - 10 * DAY));
  next = await keyAndChain('new', new Date(NOW - DAY));
  // Before the switch: the old key signs.
  oldToken = await withServer(fileSigner(old), token);
});

const fileSigner = (keys: { key: string; chain: string }) => [
  'timestamp-signer: file',
  `file-signer-key-path: ${keys.key}`,
  `certificate-chain-path: ${keys.chain}`,
];

describe('rotation', () => {
  it('publishes both keys with their windows, and each token verifies with that root', async () => {
    const retired = new Date(RETIRED).toISOString();
    const { newToken, root } = await withServer(
      [
        ...fileSigner(next),
        'previous-chains:',
        `  - path: ${old.chain}`,
        `    retired: ${retired}`,
      ],
      async (url) => ({ newToken: await token(url), root: await trustedRoot(url, 'after.json') }),
    );
    expect(root.json.timestampAuthorities.map((entry) => entry.validFor)).toEqual([
      // `retired` exactly, its milliseconds kept: tokens signed in the last second before it verify.
      { start: rfc3339(NOW - 10 * DAY), end: retired.replace('.000Z', 'Z') },
      { start: rfc3339(NOW - DAY), end: rfc3339(NOW + 300 * DAY) },
    ]);
    for (const issued of [oldToken, newToken]) {
      const result = await verify(issued, root.path);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/Successfully verified timestamp/);
      expect(result.code).toBe(0);
    }
  });

  it('ends a window retired after its chain expires at the expiry, and says so at start', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const late = new Date(NOW + 400 * DAY).toISOString();
    const root = await withServer(
      [...fileSigner(next), 'previous-chains:', `  - path: ${old.chain}`, `    retired: ${late}`],
      (url) => trustedRoot(url, 'late-retirement.json'),
      logger,
    );
    expect(root.json.timestampAuthorities[0]?.validFor.end).toBe(rfc3339(NOW + 300 * DAY));
    const warnings = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        new RegExp(`^previous chain ${old.chain}: retired .* is after the chain expires`),
      ),
    );
  });

  it("refuses the old key's token outside its window (retired when the new leaf began)", async () => {
    const root = await withServer(
      [...fileSigner(next), 'previous-chains:', `  - ${old.chain}`],
      (url) => trustedRoot(url, 'default-retirement.json'),
    );
    expect(root.json.timestampAuthorities[0]?.validFor.end).toBe(rfc3339(NOW - DAY));
    const result = await verify(oldToken, root.path);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/outside the validity window/);
  });

  it('refuses a token whose signer is not in the trusted root', async () => {
    const root = await withServer(fileSigner(next), (url) => trustedRoot(url, 'new-only.json'));
    const result = await verify(oldToken, root.path);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no timestamp authority of the trusted root signed this token/);
  });

  it('refuses to start with a previous chain newer than the current one', async () => {
    await expect(
      withServer(
        [...fileSigner(old), 'previous-chains:', `  - ${next.chain}`],
        async () => undefined,
      ),
    ).rejects.toThrow(/is newer than the current chain/);
  });
});
