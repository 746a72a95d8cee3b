import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextTag, readExactly, sequence, Tag, tlv } from '../../../src/asn1/der.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { verifyTimestampResponse } from '../../../src/verify/index.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { decodeCertificateChainPem } from '../../../src/x509/pem.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { verificationRefusal as refusal } from '../../helpers/verification.js';
import { forgeToken } from './forged-token.js';

/**
 * Certificates and names as OpenSSL makes and reads them, where the verifier refused tokens that
 * `openssl ts -verify` (and, for the root, Go's x509.Verify) accepts: a version 1 root, which
 * `openssl x509 -req -signkey` still makes without extensions, and a TSTInfo tsa naming the TSA
 * by a subjectAltName (RFC 3161 section 2.4.2: "one of the subject names included in the
 * certificate"). Each verdict is compared with openssl's.
 */
const work = tempDir();
afterAll(() => work.cleanup());
const pki = new OpensslPki(work.dir);
const artifact = Buffer.from('openssl-made names\n');
const artifactFile = work.write('artifact', artifact);
/**
 * A TSA leaf without authorityKeyIdentifier (a v1 issuer has no subjectKeyIdentifier). Every
 * certificate below outlives FORGED_AT (2030), when forgeToken signs.
 */
const LEAF = 'keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping';

const der = (name: string) =>
  decodeCertificateChainPem(readFileSync(pki.path(`${name}.pem`), 'utf8'))[0]!;

let files = 0;

/** A token over `artifact` signed by `leaf`'s key, its TSTInfo passed through `tstInfo`. */
async function tokenBy(leaf: string, tstInfo?: (der: Buffer) => Buffer): Promise<string> {
  const key = createPrivateKey(readFileSync(pki.path(`${leaf}.key`)));
  const party = { signer: new LocalKeySigner(leaf, key, 'sha256'), der: der(leaf) };
  const response = await forgeToken(
    { leaf: party } as unknown as Parameters<typeof forgeToken>[0],
    artifact,
    tstInfo ? { tstInfo } : {},
  );
  return work.write(`token-${++files}.tsr`, response);
}

/** Our verdict: 'OK' or the refusal's code. */
async function ours(reply: string, root: string, intermediates: string[] = []): Promise<string> {
  const verifying = verifyTimestampResponse(readFileSync(reply), artifact, {
    roots: [der(root)],
    intermediates: intermediates.map(der),
  });
  return verifying.then(
    () => 'OK',
    async () => (await refusal(verifying)).code,
  );
}

/** openssl's verdict: 'OK' or its error text. */
async function theirs(reply: string, root: string, untrusted: string[] = []): Promise<string> {
  const chain = pki.chain(`untrusted-${++files}.pem`, ...(untrusted.length ? untrusted : [root]));
  try {
    await opensslTsVerify(
      reply,
      { data: artifactFile },
      { root: pki.path(`${root}.pem`), untrusted: chain },
    );
    return 'OK';
  } catch (error) {
    return String(error);
  }
}

/** The TSTInfo with its tsa field (the encoder's last: the leaf's subject) set to `generalName`. */
const withTsa =
  (generalName: Buffer, leaf: string) =>
  (tstInfo: Buffer): Buffer => {
    const subject = parseCertificate(der(leaf)).subject;
    const written = tlv(contextTag(0, true), tlv(contextTag(4, true), subject));
    const content = Buffer.from(readExactly(tstInfo, Tag.SEQUENCE).value);
    expect(content.subarray(content.length - written.length)).toEqual(written);
    return sequence(
      content.subarray(0, content.length - written.length),
      tlv(contextTag(0, true), generalName),
    );
  };

beforeAll(async () => {
  // A version 1 root, and a TSA leaf it issues.
  await pki.key('v1root');
  await pki.cert('v1root', { subject: '/CN=V1 Root', days: 3650 });
  await pki.key('leaf');
  await pki.cert('leaf', { subject: '/CN=TSA under V1', issuer: 'v1root', ext: LEAF, days: 3650 });
  // A version 1 intermediate under a v3 root: no CA.
  await pki.key('root');
  await pki.cert('root', { subject: '/CN=Root', ext: EXT.root, days: 3650 });
  await pki.key('v1mid');
  await pki.cert('v1mid', { subject: '/CN=V1 Intermediate', issuer: 'root', days: 3650 });
  await pki.key('midleaf');
  await pki.cert('midleaf', {
    subject: '/CN=TSA under V1 Intermediate',
    issuer: 'v1mid',
    ext: LEAF,
    days: 3650,
  });
  // A TSA leaf with a subjectAltName.
  await pki.key('san');
  await pki.cert('san', {
    subject: '/CN=TSA SAN',
    issuer: 'root',
    ext: `${LEAF}\nsubjectAltName=DNS:tsa.example.com,URI:https://tsa.example.com/`,
    days: 3650,
  });
});

describe('OpenSSL-made certificates and names', () => {
  it('takes a version 1 root as a trust anchor, as openssl and Go do', async () => {
    expect(await openssl(['x509', '-in', pki.path('v1root.pem'), '-noout', '-text'])).toMatch(
      /Version: 1 \(0x0\)/,
    );
    const reply = await tokenBy('leaf');
    expect(await theirs(reply, 'v1root')).toBe('OK');
    expect(await ours(reply, 'v1root')).toBe('OK');
  });

  it('refuses a version 1 intermediate: only a trust anchor is a CA without basicConstraints', async () => {
    const reply = await tokenBy('midleaf');
    expect(await theirs(reply, 'root', ['v1mid'])).not.toBe('OK');
    await expect(
      verifyTimestampResponse(readFileSync(reply), artifact, {
        roots: [der('root')],
        intermediates: [der('v1mid')],
      }),
    ).rejects.toThrow(
      '"CN=V1 Intermediate" is not a CA certificate but issued another certificate',
    );
  });

  const dns = (name: string) => tlv(contextTag(2, false), Buffer.from(name));
  const uri = (name: string) => tlv(contextTag(6, false), Buffer.from(name));
  it.each([
    ['a dNSName of its subjectAltName', dns('tsa.example.com'), 'OK'],
    ['its URI', uri('https://tsa.example.com/'), 'OK'],
    ['another dNSName', dns('evil.example.com'), 'tsa-name'],
    ['a URI spelled as its dNSName', uri('tsa.example.com'), 'tsa-name'],
    ['its dNSName in another case', dns('TSA.example.com'), 'tsa-name'],
  ])('a tsa name that is %s: as openssl judges it', async (_what, name, verdict) => {
    const reply = await tokenBy('san', withTsa(name, 'san'));
    expect(await ours(reply, 'root', [])).toBe(verdict);
    const openssls = await theirs(reply, 'root');
    if (verdict === 'OK') expect(openssls).toBe('OK');
    else expect(openssls).toMatch(/tsa name mismatch/);
  });
});
