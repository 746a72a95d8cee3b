import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { verifyTimestampResponse } from '../../../src/verify/index.js';
import { verifyCertChain } from '../../../src/x509/chain-rules.js';
import { decodeCertificateChainPem } from '../../../src/x509/pem.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { forgeToken } from './forged-token.js';

/**
 * Chains whose CA certificates carry name constraints (RFC 5280 section 4.2.1.10, critical as it
 * must be) or policy extensions (certificatePolicies, policyMappings, policyConstraints,
 * inhibitAnyPolicy: sections 4.2.1.4 to 4.2.1.14), made by the openssl command. The verifier
 * refused every such chain as "unhandled critical extension"; it now applies them, and each
 * verdict is compared with `openssl ts -verify`'s on the same token.
 */
const work = tempDir();
afterAll(() => work.cleanup());
const pki = new OpensslPki(work.dir);
const artifact = Buffer.from('constrained chains\n');
const artifactFile = work.write('artifact', artifact);
const LEAF = 'keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping';
const INTERMEDIATE = `${EXT.intermediate}`;

const der = (name: string) =>
  decodeCertificateChainPem(readFileSync(pki.path(`${name}.pem`), 'utf8'))[0]!;

let files = 0;

/** An intermediate under `root` with `extensions` added, and a TSA leaf under it with `leaf`'s. */
async function chain(name: string, extensions: string, leaf = ''): Promise<void> {
  await pki.key(`${name}-mid`);
  await pki.cert(`${name}-mid`, {
    subject: `/CN=${name} intermediate`,
    issuer: 'root',
    ext: `${INTERMEDIATE}\n${extensions}`,
    days: 3650,
  });
  await pki.key(`${name}-leaf`);
  await pki.cert(`${name}-leaf`, {
    subject: `/CN=${name} TSA`,
    issuer: `${name}-mid`,
    ext: `${LEAF}${leaf ? `\n${leaf}` : ''}`,
    days: 3650,
  });
}

/**
 * Our verdict and openssl's on a token the chain `name`'s leaf signs: 'OK' or the refusal.
 * `opensslFlags`: openssl's verification options (it checks policies only when asked).
 */
async function verdicts(
  name: string,
  opensslFlags: string[] = [],
): Promise<{ ours: string; openssls: string }> {
  const key = createPrivateKey(readFileSync(pki.path(`${name}-leaf.key`)));
  const party = { signer: new LocalKeySigner(name, key, 'sha256'), der: der(`${name}-leaf`) };
  const response = await forgeToken(
    { leaf: party } as unknown as Parameters<typeof forgeToken>[0],
    artifact,
  );
  const reply = work.write(`token-${++files}.tsr`, response);
  const ours = await verifyTimestampResponse(response, artifact, {
    roots: [der('root')],
    intermediates: [der(`${name}-mid`)],
  }).then(
    () => 'OK',
    (error: Error) => error.message,
  );
  const untrusted = pki.chain(`untrusted-${files}.pem`, `${name}-mid`);
  const openssls = await openssl([
    'ts',
    '-verify',
    '-in',
    reply,
    '-data',
    artifactFile,
    '-CAfile',
    pki.path('root.pem'),
    '-untrusted',
    untrusted,
    ...opensslFlags,
  ]).then(
    // prettier-ignore
    () => 'OK',
    (error: Error) => String(error),
  );
  return { ours, openssls };
}

/** The server's start-up chain rules on the chain `name` (leaf, intermediate, root): 'OK' or the refusal. */
function startUpVerdict(name: string): string {
  const key = createPublicKey(readFileSync(pki.path(`${name}-leaf.key`)));
  try {
    verifyCertChain([der(`${name}-leaf`), der(`${name}-mid`), der('root')], key, {
      enforceIntermediateEku: true,
    });
    return 'OK';
  } catch (error) {
    return (error as Error).message;
  }
}

beforeAll(async () => {
  await pki.key('root');
  await pki.cert('root', { subject: '/CN=Constraining Root', ext: EXT.root, days: 3650 });
  const dnsOnly = 'nameConstraints=critical,permitted;DNS:example.com,excluded;DNS:bad.example.com';
  await chain('no-san', dnsOnly);
  await chain('dns-in', dnsOnly, 'subjectAltName=DNS:tsa.example.com');
  await chain('dns-out', dnsOnly, 'subjectAltName=DNS:tsa.example.org');
  await chain('dns-excluded', dnsOnly, 'subjectAltName=DNS:bad.example.com');
  const ip = 'nameConstraints=critical,permitted;IP:10.0.0.0/255.0.0.0';
  await chain('ip-in', ip, 'subjectAltName=IP:10.1.2.3');
  await chain('ip-out', ip, 'subjectAltName=IP:192.168.0.1');
  const email = 'nameConstraints=critical,permitted;email:.example.com';
  await chain('email-in', email, 'subjectAltName=email:tsa@ops.example.com');
  await chain('email-out', email, 'subjectAltName=email:tsa@example.com');
  const uri = 'nameConstraints=critical,permitted;URI:.example.com';
  await chain('uri-in', uri, 'subjectAltName=URI:https://tsa.ops.example.com/');
  await chain('uri-out', uri, 'subjectAltName=URI:https://tsa.example.net/');
  // Permits the leaf's own subject (CN=dirname TSA), so that openssl, which applies it, accepts.
  await chain('dirname', 'nameConstraints=critical,permitted;dirName:dir\n[dir]\nCN=dirname TSA');

  const explicit = 'policyConstraints=critical,requireExplicitPolicy:0';
  await chain(
    'explicit-kept',
    `${explicit}\ncertificatePolicies=1.2.3.4`,
    'certificatePolicies=1.2.3.4',
  );
  await chain('explicit-leaf-none', `${explicit}\ncertificatePolicies=1.2.3.4`);
  await chain(
    'explicit-other',
    `${explicit}\ncertificatePolicies=1.2.3.4`,
    'certificatePolicies=1.2.3.5',
  );
  await chain(
    'explicit-any',
    `${explicit}\ncertificatePolicies=2.5.29.32.0`,
    'certificatePolicies=1.2.3.5',
  );
  const mapped = `${explicit}\ncertificatePolicies=1.2.3.4\npolicyMappings=critical,1.2.3.4:1.2.3.5`;
  await chain('mapped', mapped, 'certificatePolicies=1.2.3.5');
  await chain('mapped-from', mapped, 'certificatePolicies=1.2.3.4');
  await chain('inhibit-any', 'inhibitAnyPolicy=critical,0\ncertificatePolicies=2.5.29.32.0');
  await chain(
    'inhibit-any-explicit',
    `${explicit}\ninhibitAnyPolicy=critical,0\ncertificatePolicies=2.5.29.32.0`,
    'certificatePolicies=2.5.29.32.0',
  );
  await chain('no-explicit', 'policyConstraints=critical,inhibitPolicyMapping:0');
}, 120_000);

describe('name constraints, as openssl applies them', () => {
  it.each([
    ['a leaf without subjectAltName under DNS constraints', 'no-san'],
    ['a DNS name inside the permitted subtree', 'dns-in'],
    ['an IP address inside the permitted range', 'ip-in'],
    ['an email address in a permitted domain', 'email-in'],
    ['a URI whose host is in a permitted domain', 'uri-in'],
  ])('accepts %s', async (_what, name) => {
    expect(await verdicts(name)).toEqual({ ours: 'OK', openssls: 'OK' });
  });

  it.each([
    [
      'a DNS name outside the permitted subtree',
      'dns-out',
      'DNS name "tsa.example.org" is not permitted',
    ],
    [
      'a DNS name in the excluded subtree',
      'dns-excluded',
      'DNS name "bad.example.com" is excluded by constraint "bad.example.com"',
    ],
    ['an IP address outside the range', 'ip-out', 'IP address "192.168.0.1" is not permitted'],
    [
      'an email address of the domain itself where subdomains are asked for',
      'email-out',
      'email address "tsa@example.com" is not permitted',
    ],
    [
      'a URI whose host is outside the DNS subtree',
      'uri-out',
      'URI "https://tsa.example.net/" is not permitted',
    ],
  ])('refuses %s', async (_what, name, detail) => {
    const { ours, openssls } = await verdicts(name);
    expect(ours).toContain('is not authorized to sign for this name');
    expect(ours).toContain(detail);
    expect(openssls).toMatch(/name constraint|permitted subtree|excluded subtree/);
  });

  it('leaves a critical directoryName constraint unhandled, as Go and the server’s start-up check do (openssl applies it)', async () => {
    const { ours, openssls } = await verdicts('dirname');
    expect(ours).toContain('unhandled critical extension 2.5.29.30');
    expect(openssls).toBe('OK');
  });
});

/**
 * openssl checks policies only when asked, and then against the policies asked for (none by
 * default, which refuses every explicit policy): anyPolicy is RFC 5280's default, and Go's.
 */
const POLICY_CHECK = ['-policy_check', '-policy', 'anyPolicy'];

describe('certificate policies, as openssl -policy_check applies them (Go always does)', () => {
  it.each([
    ['an explicit policy the leaf keeps', 'explicit-kept'],
    ['an explicit policy under anyPolicy', 'explicit-any'],
    ['a policy mapped to the one the leaf holds', 'mapped'],
    ['a critical inhibitAnyPolicy when no explicit policy is asked for', 'inhibit-any'],
    ['a policyConstraints without requireExplicitPolicy', 'no-explicit'],
  ])('accepts %s, and so do the server’s start-up chain rules', async (_what, name) => {
    expect(await verdicts(name, POLICY_CHECK)).toEqual({ ours: 'OK', openssls: 'OK' });
    expect(startUpVerdict(name)).toBe('OK');
  });

  it.each([
    ['an explicit policy and a leaf without certificatePolicies', 'explicit-leaf-none'],
    ['an explicit policy and a leaf under another policy', 'explicit-other'],
    ['the policy a mapping replaced', 'mapped-from'],
    [
      'anyPolicy in the leaf where it is inhibited and a policy is required',
      'inhibit-any-explicit',
    ],
  ])('refuses %s, and so do the server’s start-up chain rules', async (_what, name) => {
    const { ours, openssls } = await verdicts(name, POLICY_CHECK);
    expect(ours).toContain('all candidate chains have invalid policies');
    expect(openssls).toMatch(/Verify error:no explicit policy/);
    expect(startUpVerdict(name)).toContain('all candidate chains have invalid policies');
  });
});
