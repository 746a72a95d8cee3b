import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../../src/cli/timestamp-cli/log-audit-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { encodePem } from '../../../src/x509/pem.js';
import { tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki, type Pki } from '../../helpers/pki.js';

/**
 * The PEM files timestamp-cli reads (verify's --certificate-chain, --root-certificates,
 * --intermediate-certificates and --certificate, log-audit --chain) are read strictly, as Go's
 * cryptoutils.UnmarshalCertificatesFromPEM refuses what it cannot decode: a chain cut short must
 * not verify with its intermediate as the trusted root, and a key in the file is no certificate.
 */
const dir = tempDir();
afterAll(() => dir.cleanup());

let pki: Pki;
let artifact: string;
let response: string;
const pem = (der: Buffer) => encodePem('CERTIFICATE', der);
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

beforeAll(async () => {
  pki = await makePki();
  artifact = dir.write('artifact', 'blob');
  response = dir.write('response.tsr', await issueToken(pki, { artifact: Buffer.from('blob') }));
});

/** What `verify` ends with: undefined when it verified, else the error. */
async function verify(args: string[]): Promise<unknown> {
  const command = verifyCommand(
    () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
    { stdout: () => {}, stderr: () => {} },
  ).exitOverride();
  return command
    .parseAsync(['--artifact', artifact, '--timestamp', response, ...args], { from: 'user' })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
}

/** The INVALID_PEM message of a refused file, or a note of what happened instead. */
function refusal(error: unknown): string {
  if (error === undefined) return 'verified';
  if (!(error instanceof CliError)) throw error as Error;
  return `${error.code}: ${error.message}`;
}

/** The chain file (intermediate, then root) with its last 40 bytes cut: `head -c -40`. */
const truncatedChain = () => pki.chainPem.slice(0, -40);
const rootLine = () => pki.chainPem.split('\n').indexOf('-----BEGIN CERTIFICATE-----', 1) + 1;

describe('timestamp-cli verify reads its PEM files strictly', () => {
  it('verifies with the whole chain (the files below differ from it only as said)', async () => {
    expect(await verify(['--certificate-chain', dir.write('chain.pem', pki.chainPem)])).toBe(
      undefined,
    );
  });

  it('refuses a chain whose root lost its END line, rather than trust the intermediate', async () => {
    const file = dir.write('truncated.pem', truncatedChain());
    expect(refusal(await verify(['--certificate-chain', file]))).toBe(
      `INVALID_PEM: failed to parse intermediate and root certs from PEM file ${file} (--certificate-chain): ` +
        `the PEM block "CERTIFICATE" at line ${rootLine()} has no END line (is the file truncated?)`,
    );
  });

  it('refuses a block without its END line even when another block follows it', async () => {
    const [intermediate, root] = [pem(pki.intermediate.der), pem(pki.root.der)];
    const merged = intermediate.replace('-----END CERTIFICATE-----\n', '') + root;
    const file = dir.write('merged.pem', merged);
    expect(refusal(await verify(['--certificate-chain', file]))).toMatch(
      /^INVALID_PEM: .*: the PEM block "CERTIFICATE" at line 1 has no END line before the next BEGIN, at line \d+$/,
    );
  });

  it.each([
    [
      'a PRIVATE KEY block',
      () => pki.chainPem + key,
      /PEM block 3 \(line \d+\) is "PRIVATE KEY", not a CERTIFICATE$/,
    ],
    [
      'a body that is not base64',
      () => pki.chainPem.replace(/\n[A-Za-z0-9+/]{8}/, '\n!junk!!!'),
      /the PEM block "CERTIFICATE" at line 1 is not valid base64$/,
    ],
    [
      'a block that is not a certificate',
      () => pki.chainPem + pem(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])),
      /PEM block 3 \(line \d+\) is not a DER certificate: .+$/,
    ],
    [
      'a certificate with bytes after it',
      () =>
        pem(Buffer.concat([pki.intermediate.der, Buffer.from([0x05, 0x00])])) + pem(pki.root.der),
      /PEM block 1 \(line 1\) is not a DER certificate: .+$/,
    ],
    [
      'an END line without its BEGIN',
      () => `${pki.chainPem}-----END CERTIFICATE-----\n`,
      /line \d+ ends a PEM block "CERTIFICATE" that was never begun$/,
    ],
    [
      'an END line of another label',
      () => pki.chainPem.replace(/-----END CERTIFICATE-----\n$/, '-----END PRIVATE KEY-----\n'),
      /line \d+ ends a PEM block "PRIVATE KEY" that is not the one open, "CERTIFICATE" at line \d+$/,
    ],
    [
      'an armour line cut short',
      () => `${pki.chainPem}-----BEGIN CERTIF\n`,
      /line \d+ is not a whole PEM BEGIN or END line$/,
    ],
  ])('refuses %s', async (_, text, reason) => {
    const file = dir.write('bad.pem', text());
    const message = refusal(await verify(['--certificate-chain', file]));
    expect(message).toMatch(
      /^INVALID_PEM: failed to parse intermediate and root certs from PEM file /,
    );
    expect(message).toMatch(reason);
    // Never the file's content: it might be a key.
    expect(message).not.toMatch(/MII|junk/);
  });

  it('skips text outside the blocks: comments before, between and after them', async () => {
    const [intermediate, root] = [pem(pki.intermediate.der), pem(pki.root.der)];
    const commented =
      `subject=O=test, CN=Test Intermediate\nissuer=O=test, CN=Test Root\n${intermediate}\n` +
      `# the root\n${root}trailing remark\n`;
    expect(await verify(['--certificate-chain', dir.write('commented.pem', commented)])).toBe(
      undefined,
    );
  });

  it.each([
    ['--root-certificates', 'root certs', (file: string) => ['--root-certificates', file]],
    [
      '--intermediate-certificates',
      'intermediate certs',
      (file: string) => [
        '--root-certificates',
        dir.write('root.pem', pem(pki.root.der)),
        '--intermediate-certificates',
        file,
      ],
    ],
    [
      '--certificate',
      'the TSA certificate',
      (file: string) => [
        '--certificate-chain',
        dir.write('chain.pem', pki.chainPem),
        '--certificate',
        file,
      ],
    ],
  ])('reads %s the same way', async (flag, what, args) => {
    const file = dir.write('truncated.pem', truncatedChain());
    expect(refusal(await verify(args(file)))).toBe(
      `INVALID_PEM: failed to parse ${what} from PEM file ${file} (${flag}): ` +
        `the PEM block "CERTIFICATE" at line ${rootLine()} has no END line (is the file truncated?)`,
    );
    const withKey = dir.write('with-key.pem', pem(pki.root.der) + key);
    expect(refusal(await verify(args(withKey)))).toMatch(
      /: PEM block 2 \(line \d+\) is "PRIVATE KEY", not a CERTIFICATE$/,
    );
  });
});

describe('timestamp-cli log-audit --chain reads its PEM file strictly', () => {
  it('refuses a chain cut short, before any request (the server here is never reached)', async () => {
    const file = dir.write('truncated.pem', truncatedChain());
    // Port 9 (discard) on 127.0.0.1: nothing listens; the chain is read before it is asked.
    const error = await auditLog('http://127.0.0.1:9', { chain: file }, 1_000).catch(
      (caught: unknown) => caught,
    );
    expect(refusal(error)).toBe(
      `INVALID_PEM: failed to parse the certificates of ${file} (--chain): ` +
        `the PEM block "CERTIFICATE" at line ${rootLine()} has no END line (is the file truncated?)`,
    );
    const withKey = dir.write('with-key.pem', pki.chainPem + key);
    expect(
      refusal(
        await auditLog('http://127.0.0.1:9', { chain: withKey }, 1_000).catch(
          (caught: unknown) => caught,
        ),
      ),
    ).toMatch(/^INVALID_PEM: .*: PEM block 3 \(line \d+\) is "PRIVATE KEY", not a CERTIFICATE$/);
  });
});
