import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { KeyUsage } from '../../../src/x509/certificate-builder.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import {
  VerificationError,
  verifyTimestampResponse,
  type VerifyOptions,
} from '../../../src/index.js';
import { tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { issue, issueToken, makePki, newSigner, type Party, type Pki } from '../../helpers/pki.js';

const artifact = Buffer.from('an artifact to timestamp\n');
const YEAR = 365 * 86_400_000;

/** Go's VerifyOpts{Roots, Intermediates, TSACertificate} for a PKI. */
const trust = (pki: Pki, extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  roots: [pki.root.der],
  intermediates: [pki.intermediate.der],
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return (error as Error).message;
  }
  throw new Error('verification unexpectedly succeeded');
}

describe('verifyTimestampResponse (reference 12.4)', () => {
  let pki: Pki;
  let token: Buffer;
  beforeAll(async () => {
    pki = await makePki();
    token = await issueToken(pki, { artifact, nonce: 1234n });
  });

  it('verifies a round trip and returns the parsed timestamp', async () => {
    const timestamp = await verifyTimestampResponse(
      token,
      artifact,
      trust(pki, { tsaCertificate: pki.leaf.der }),
    );
    expect(timestamp.nonce).toBe(1234n);
    expect(timestamp.policy).toBe(OID.sigstoreTsaPolicy);
    expect(timestamp.hashAlgorithm).toBe('sha256');
    expect(timestamp.certificates).toHaveLength(1);
    expect(timestamp.tsaName).toBe('O=test, CN=Test TSA Timestamping');
  });

  it('accepts the artifact as a stream or a digest', async () => {
    async function* chunks() {
      yield artifact.subarray(0, 5);
      yield artifact.subarray(5);
    }
    await expect(verifyTimestampResponse(token, chunks(), trust(pki))).resolves.toBeDefined();
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(artifact).digest();
    await expect(verifyTimestampResponse(token, { digest }, trust(pki))).resolves.toBeDefined();
  });

  it('fails an altered artifact with exactly "hashed messages don\'t match"', async () => {
    expect(await failure(verifyTimestampResponse(token, Buffer.from('other'), trust(pki)))).toBe(
      "hashed messages don't match",
    );
  });

  it('checks the nonce: equal passes, different fails, missing fails', async () => {
    await expect(
      verifyTimestampResponse(token, artifact, trust(pki, { nonce: 1234n })),
    ).resolves.toBeDefined();
    expect(
      await failure(verifyTimestampResponse(token, artifact, trust(pki, { nonce: 4321n }))),
    ).toBe('incoming nonce 4321 does not match TSR nonce 1234');
    const withoutNonce = await issueToken(pki, { artifact });
    expect(
      await failure(verifyTimestampResponse(withoutNonce, artifact, trust(pki, { nonce: 1n }))),
    ).toBe('expected nonce 1 but response does not contain a nonce');
  });

  it('checks the policy OID', async () => {
    await expect(
      verifyTimestampResponse(token, artifact, trust(pki, { oid: OID.sigstoreTsaPolicy })),
    ).resolves.toBeDefined();
    expect(
      await failure(verifyTimestampResponse(token, artifact, trust(pki, { oid: '1.2.3.4' }))),
    ).toMatch(/^OID content does not match/);
  });

  it('checks the common name', async () => {
    await expect(
      verifyTimestampResponse(token, artifact, trust(pki, { commonName: 'Test TSA Timestamping' })),
    ).resolves.toBeDefined();
    expect(
      await failure(verifyTimestampResponse(token, artifact, trust(pki, { commonName: 'Other' }))),
    ).toBe(
      "the certificate's subject Common Name Test TSA Timestamping does not match the provided Common Name Other",
    );
  });

  describe('certificates and chain (verifyTSRWithChain table)', () => {
    it('same certificate embedded and provided passes; a different provided one fails', async () => {
      await expect(
        verifyTimestampResponse(token, artifact, trust(pki, { tsaCertificate: pki.leaf.der })),
      ).resolves.toBeDefined();
      const other = await makePki();
      expect(
        await failure(
          verifyTimestampResponse(token, artifact, trust(pki, { tsaCertificate: other.leaf.der })),
        ),
      ).toBe('certificate embedded in the TSR does not match the provided TSA certificate');
    });

    it('a token without certificates needs the TSA certificate as an option', async () => {
      const bare = await issueToken(pki, { artifact, certReq: false });
      expect(await failure(verifyTimestampResponse(bare, artifact, trust(pki)))).toBe(
        'leaf certificate must be present in the TSR or as a verify option',
      );
      await expect(
        verifyTimestampResponse(
          bare,
          artifact,
          trust(pki, { tsaCertificate: new X509Certificate(pki.leaf.der) }),
        ),
      ).resolves.toBeDefined();
    });

    it('no roots fails', async () => {
      expect(await failure(verifyTimestampResponse(token, artifact, { roots: [] }))).toBe(
        'no root certificates provided for verifying the certificate chain',
      );
    });

    it('a missing intermediate or a wrong root fails', async () => {
      expect(
        await failure(verifyTimestampResponse(token, artifact, { roots: [pki.root.der] })),
      ).toMatch(
        /^error while verifying signer certificate chain: x509: certificate signed by unknown authority/,
      );
      const other = await makePki();
      expect(
        await failure(
          verifyTimestampResponse(token, artifact, {
            roots: [other.root.der],
            intermediates: [pki.intermediate.der],
          }),
        ),
      ).toMatch(
        /^error while verifying signer certificate chain: x509: certificate signed by unknown authority/,
      );
    });

    it("a chain ending in another root with the trusted root's name fails", async () => {
      // makePki names every PKI alike: the attacker's own "Test Root", embedded in the token, is
      // no trust anchor though its subject is the trusted root's.
      const attacker = await makePki();
      const forged = await issueToken(attacker, {
        artifact,
        embedded: [attacker.leaf.der, attacker.intermediate.der, attacker.root.der],
      });
      await expect(
        verifyTimestampResponse(forged, artifact, { roots: [attacker.root.der] }),
      ).resolves.toBeDefined();
      expect(
        await failure(verifyTimestampResponse(forged, artifact, { roots: [pki.root.der] })),
      ).toBe(
        'error while verifying signer certificate chain: x509: certificate signed by unknown authority (no trusted issuer for "O=test, CN=Test Root")',
      );
    });

    /** The refusal of `token` under the root, with the intermediate's key certified again so. */
    const failureWithIntermediate = async (changes: {
      subject?: typeof pki.intermediate.subject;
      keyUsage?: number[];
    }) => {
      const intermediate = await issue(
        pki.intermediate.signer,
        {
          subject: pki.intermediate.subject,
          notBefore: new Date(Date.now() - YEAR),
          notAfter: new Date(Date.now() + YEAR),
          publicKey: pki.intermediate.signer.publicKey,
          basicConstraints: {},
          keyUsage: [KeyUsage.keyCertSign],
          ...changes,
        },
        pki.root,
      );
      return failure(
        verifyTimestampResponse(token, artifact, {
          roots: [pki.root.der],
          intermediates: [intermediate],
        }),
      );
    };

    it('an intermediate with another issuer name (same key) fails', async () => {
      expect(
        await failureWithIntermediate({
          subject: { organization: 'test', commonName: 'Renamed Intermediate' },
        }),
      ).toMatch(/unknown authority/);
    });

    it('an intermediate whose keyUsage lacks keyCertSign: named, not an unknown authority', async () => {
      expect(await failureWithIntermediate({ keyUsage: [KeyUsage.digitalSignature] })).toBe(
        'error while verifying signer certificate chain: x509: "O=test, CN=Test Intermediate" may not sign certificates (keyUsage lacks keyCertSign)',
      );
    });

    it('validates the chain at genTime by default; now+20y and now-24h fail', async () => {
      await expect(
        verifyTimestampResponse(token, artifact, trust(pki, { currentTime: new Date() })),
      ).resolves.toBeDefined();
      const later = new Date(Date.now() + 20 * YEAR);
      expect(
        await failure(verifyTimestampResponse(token, artifact, trust(pki, { currentTime: later }))),
      ).toMatch(
        /^error while verifying signer certificate chain: x509: certificate has expired or is not yet valid/,
      );
      // The leaf was issued 30 days ago; the token's TSA certificate was not yet valid 24 h before a fresh leaf.
      const fresh = await makePki({ leaf: { notBefore: new Date(Date.now() - 3_600_000) } });
      const freshToken = await issueToken(fresh, { artifact });
      const dayBefore = new Date(Date.now() - 86_400_000);
      expect(
        await failure(
          verifyTimestampResponse(freshToken, artifact, trust(fresh, { currentTime: dayBefore })),
        ),
      ).toMatch(/expired or is not yet valid/);
    });

    it('a token whose leaf has since expired still verifies at its genTime', async () => {
      const now = Date.now();
      const expired = await makePki({
        leaf: {
          notBefore: new Date(now - 400 * 86_400_000),
          notAfter: new Date(now - 35 * 86_400_000),
        },
      });
      const genTime = new Date(now - 100 * 86_400_000);
      const old = await issueToken(expired, { artifact, genTime });
      const timestamp = await verifyTimestampResponse(old, artifact, trust(expired));
      expect(timestamp.genTime.getTime()).toBe(Math.round(genTime.getTime() / 1000) * 1000);
      expect(
        await failure(
          verifyTimestampResponse(old, artifact, trust(expired, { currentTime: new Date() })),
        ),
      ).toMatch(/certificate has expired/);
    });
  });

  describe('injected certificates (GHSA-xm5m-wgh2-rrg3)', () => {
    let spoofed: Party;
    let fakeRoot: Party;
    beforeAll(async () => {
      const fakeRootSigner = newSigner('fake root');
      const fakeRootSubject = { commonName: 'Nonexistent CA' };
      fakeRoot = {
        signer: fakeRootSigner,
        subject: fakeRootSubject,
        der: await issue(
          fakeRootSigner,
          {
            subject: fakeRootSubject,
            notBefore: new Date(Date.now() - YEAR),
            notAfter: new Date(Date.now() + YEAR),
            publicKey: fakeRootSigner.publicKey,
            basicConstraints: {},
            keyUsage: [KeyUsage.keyCertSign],
          },
          'self-signed',
        ),
      };
      const spoofedSigner = newSigner('spoofed');
      spoofed = {
        signer: spoofedSigner,
        subject: { commonName: 'Spoofed TSA' },
        der: await issue(
          spoofedSigner,
          {
            subject: { commonName: 'Spoofed TSA' },
            notBefore: new Date(Date.now() - YEAR),
            notAfter: new Date(Date.now() + YEAR),
            publicKey: spoofedSigner.publicKey,
            keyUsage: [KeyUsage.digitalSignature],
            extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
          },
          fakeRoot,
        ),
      };
    });

    /** The real signer's token with the spoofed certificate and its root embedded, spoofed FIRST. */
    async function injectedToken(): Promise<Buffer> {
      const real = await issueToken(pki, {
        artifact,
        embedded: [pki.leaf.der, spoofed.der, fakeRoot.der],
      });
      const inOrder = Buffer.concat([pki.leaf.der, spoofed.der]);
      const swapped = Buffer.concat([spoofed.der, pki.leaf.der]);
      const at = real.indexOf(inOrder);
      expect(at).toBeGreaterThan(0);
      swapped.copy(real, at); // certificates are outside the signature: still a valid token
      return real;
    }

    it('fails when the caller expects the spoofed name', async () => {
      const injected = await injectedToken();
      expect(
        await failure(
          verifyTimestampResponse(injected, artifact, trust(pki, { commonName: 'Spoofed TSA' })),
        ),
      ).toMatch(/does not match the provided Common Name Spoofed TSA/);
      // Trusting the fake root does not help: the spoofed key never signed the token.
      expect(
        await failure(
          verifyTimestampResponse(injected, artifact, {
            roots: [fakeRoot.der],
            commonName: 'Spoofed TSA',
          }),
        ),
      ).toMatch(/signer certificate chain|Common Name/);
      expect(
        await failure(
          verifyTimestampResponse(injected, artifact, trust(pki, { tsaCertificate: spoofed.der })),
        ),
      ).toBe('certificate embedded in the TSR does not match the provided TSA certificate');
    });

    it('identifies the real signer even when it is not the first embedded certificate', async () => {
      const injected = await injectedToken();
      const timestamp = await verifyTimestampResponse(
        injected,
        artifact,
        trust(pki, { commonName: 'Test TSA Timestamping' }),
      );
      expect(timestamp.certificates[0]?.subjectCommonName).toBe('Spoofed TSA');
    });
  });

  describe('TSA certificate rules (verifyLeafCert)', () => {
    const cases: [string, Parameters<typeof makePki>[0], RegExp | null][] = [
      ['leaf EKU [timeStamping]', {}, null],
      [
        'leaf EKU [timeStamping, ipsecUser]',
        {
          leaf: {
            extendedKeyUsage: { purposes: [OID.timeStamping, '1.3.6.1.5.5.7.3.7'], critical: true },
          },
        },
        /certificate has 2 extended key usages, expected only one/,
      ],
      [
        'leaf EKU [ipsecUser]',
        { leaf: { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.7'], critical: true } } },
        /leaf certificate EKU is not set to TimeStamping as required/,
      ],
      [
        'leaf EKU [timeStamping] + unknown',
        {
          leaf: { extendedKeyUsage: { purposes: [OID.timeStamping, '1.2.3.4.5'], critical: true } },
        },
        /certificate has 2 extended key usages/,
      ],
      [
        'leaf EKU unknown only',
        { leaf: { extendedKeyUsage: { purposes: ['1.2.3.4.5'], critical: true } } },
        /EKU is not set to TimeStamping/,
      ],
      [
        'leaf EKU not critical',
        { leaf: { extendedKeyUsage: { purposes: [OID.timeStamping], critical: false } } },
        /^failed to verify TSA certificate: certificate must set EKU to critical$/,
      ],
      [
        'CA leaf',
        { leaf: { basicConstraints: {} } },
        /^failed to verify TSA certificate: TSA certificate must be an end-entity certificate, not a CA$/,
      ],
      ['intermediate without EKU', { intermediate: { extendedKeyUsage: undefined } }, null],
      [
        'intermediate EKU [timeStamping, ipsecUser]',
        {
          intermediate: {
            extendedKeyUsage: {
              purposes: [OID.timeStamping, '1.3.6.1.5.5.7.3.7'],
              critical: false,
            },
          },
        },
        null,
      ],
      [
        'intermediate EKU [any, ipsecUser]',
        {
          intermediate: {
            extendedKeyUsage: {
              purposes: [OID.anyExtendedKeyUsage, '1.3.6.1.5.5.7.3.7'],
              critical: false,
            },
          },
        },
        null,
      ],
      [
        'intermediate EKU [ipsecUser]',
        {
          intermediate: { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.7'], critical: false } },
        },
        /^no verified certificate chain met EKU requirements: intermediate certificate does not allow Timestamping usage$/,
      ],
      [
        'intermediate that is not a CA',
        { intermediate: { basicConstraints: undefined } },
        /is not a CA certificate/,
      ],
      [
        'root pathLenConstraint 0 above an intermediate',
        { root: { basicConstraints: { pathLenConstraint: 0 } } },
        /^error while verifying signer certificate chain: x509: too many intermediates for the path length constraint of "O=test, CN=Test Root"$/,
      ],
      [
        'root pathLenConstraint 1 above an intermediate',
        { root: { basicConstraints: { pathLenConstraint: 1 } } },
        null,
      ],
    ];
    it.each(cases)('%s', async (_name, changes, expected) => {
      const variant = await makePki(changes);
      const variantToken = await issueToken(variant, { artifact });
      const result = verifyTimestampResponse(variantToken, artifact, trust(variant));
      if (expected === null) await expect(result).resolves.toBeDefined();
      else expect(await failure(result)).toMatch(expected);
    });

    it('one good chain suffices when another path fails the EKU rule', async () => {
      // A second intermediate certificate for the same key and name, with a forbidding EKU.
      const badTwin = await issue(
        pki.intermediate.signer,
        {
          subject: pki.intermediate.subject,
          notBefore: new Date(Date.now() - YEAR),
          notAfter: new Date(Date.now() + YEAR),
          publicKey: pki.intermediate.signer.publicKey,
          basicConstraints: {},
          keyUsage: [KeyUsage.keyCertSign],
          extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.7'], critical: false },
        },
        pki.root,
      );
      await expect(
        verifyTimestampResponse(token, artifact, {
          roots: [pki.root.der],
          intermediates: [badTwin, pki.intermediate.der],
        }),
      ).resolves.toBeDefined();
      expect(
        await failure(
          verifyTimestampResponse(token, artifact, {
            roots: [pki.root.der],
            intermediates: [badTwin],
          }),
        ),
      ).toMatch(/no verified certificate chain met EKU requirements/);
    });
  });

  describe('a CA keyUsage that is not DER', () => {
    const work = tempDir();
    afterAll(() => work.cleanup());

    it('is refused as lacking keyCertSign, though OpenSSL reads keyCertSign in it', async () => {
      // 23 04 03 02 01 06: keyCertSign and cRLSign as a constructed BIT STRING, which DER forbids.
      // OpenSSL's checkIssued reads the bits and lets the intermediate issue; the certificate view
      // reads none, and only the chain's keyUsage rule refuses it.
      const made = new OpensslPki(work.dir);
      await made.key('root');
      await made.cert('root', { subject: '/O=test/CN=Test Root', ext: EXT.root, days: 3650 });
      await made.key('intermediate');
      await made.cert('intermediate', {
        subject: '/O=test/CN=Test Intermediate',
        ext: EXT.intermediate.replace('keyCertSign,cRLSign', 'DER:23:04:03:02:01:06'),
        issuer: 'root',
      });
      await made.key('leaf');
      await made.cert('leaf', {
        subject: '/O=test/CN=Test TSA',
        ext: EXT.leaf,
        issuer: 'intermediate',
      });
      const der = (name: string) =>
        decodeCertificatesPem(readFileSync(made.path(`${name}.pem`), 'utf8'))[0]!;
      const leaf: Party = {
        signer: new LocalKeySigner(
          'leaf',
          createPrivateKey(readFileSync(made.path('leaf.key'))),
          'sha256',
        ),
        subject: { organization: 'test', commonName: 'Test TSA' },
        der: der('leaf'),
      };
      expect(
        new X509Certificate(leaf.der).checkIssued(new X509Certificate(der('intermediate'))),
      ).toBe(true);
      const madeToken = await issueToken({ ...pki, leaf }, { artifact });
      expect(
        await failure(
          verifyTimestampResponse(madeToken, artifact, {
            roots: [der('root')],
            intermediates: [der('intermediate')],
          }),
        ),
      ).toBe(
        'error while verifying signer certificate chain: x509: "O=test, CN=Test Intermediate" may not sign certificates (keyUsage lacks keyCertSign)',
      );
    });
  });

  describe('responses that are not tokens', () => {
    it('garbage is a parse error', async () => {
      expect(
        await failure(verifyTimestampResponse(Buffer.from('invalid TSR'), artifact, trust(pki))),
      ).toMatch(/^error parsing response into Timestamp/);
    });
    it('trailing bytes are refused', async () => {
      expect(
        await failure(
          verifyTimestampResponse(Buffer.concat([token, Buffer.from([0])]), artifact, trust(pki)),
        ),
      ).toBe('error parsing response into Timestamp: trailing data after the response');
    });
  });
});
