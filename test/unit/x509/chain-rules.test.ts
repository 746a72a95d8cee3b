import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainRuleError, verifyCertChain } from '../../../src/x509/chain-rules.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { UNREADABLE_TIME, withTime } from '../../helpers/certificate-time.js';
import { withExtensionTwice } from '../../helpers/certificate-extensions.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki, privateKeyUsagePeriodExt } from '../../helpers/openssl-pki.js';

const work = tempDir();
const pki = new OpensslPki(work.dir);

const der = (...names: string[]) =>
  names.map(
    (name) => decodeCertificatesPem(readFileSync(pki.path(`${name}.pem`), 'utf8'))[0] as Buffer,
  );
const publicKeyOf = (name: string): KeyObject =>
  createPublicKey(readFileSync(pki.path(`${name}.key`)));
const check =
  (names: string[], signer = 'leaf', enforceIntermediateEku = true) =>
  () =>
    verifyCertChain(der(...names), publicKeyOf(signer), { enforceIntermediateEku });

/** A leaf for the standard intermediate with the given extensions. */
async function leafWith(
  name: string,
  ext: string | undefined,
  issuer = 'intermediate',
  extra: object = {},
) {
  await pki.key(name);
  await pki.cert(name, {
    subject: `/O=test/CN=${name}`,
    ...(ext === undefined ? {} : { ext }),
    issuer,
    ...extra,
  });
}

beforeAll(async () => {
  await pki.standardChain();
});
afterAll(() => work.cleanup());

describe('start-up chain rules (Go VerifyCertChain), each broken by an openssl-made chain', () => {
  it('accepts leaf + intermediate + root, and leaf + root', async () => {
    expect(check(['leaf', 'intermediate', 'root'])).not.toThrow();
    await leafWith('direct', EXT.leaf, 'root');
    expect(check(['direct', 'root'], 'direct')).not.toThrow();
  });

  it('rule 1: an empty chain', () => {
    expect(() =>
      verifyCertChain([], publicKeyOf('leaf'), { enforceIntermediateEku: true }),
    ).toThrow('certificate chain must contain a leaf certificate');
  });

  it('rule 2: a lone (self-signed) certificate', () => {
    expect(check(['root'], 'root')).toThrow(
      'certificate chain must contain at least two certificates',
    );
  });

  it('rule 3: no signer', () => {
    expect(() =>
      verifyCertChain(der('leaf', 'root'), undefined, { enforceIntermediateEku: true }),
    ).toThrow('signer must not be nil');
  });

  describe('rule 4: Go leaf.Verify', () => {
    it('an expired leaf', async () => {
      await leafWith('expired', EXT.leaf, 'intermediate', { days: -1 });
      expect(check(['expired', 'intermediate', 'root'], 'expired')).toThrow(
        /^x509: certificate has expired or is not yet valid: current time \S+Z is after \S+Z$/,
      );
    });

    it('a leaf not yet valid (checked at an earlier "now")', () => {
      const leafStart = new Date(new X509Certificate(der('leaf')[0] as Buffer).validFrom);
      expect(() =>
        verifyCertChain(der('leaf', 'intermediate', 'root'), publicKeyOf('leaf'), {
          enforceIntermediateEku: true,
          now: new Date(leafStart.getTime() - 86_400_000),
        }),
      ).toThrow(
        /^x509: certificate has expired or is not yet valid: current time \S+ is before \S+$/,
      );
    });

    it('an expired intermediate', async () => {
      await pki.key('old-intermediate');
      await pki.cert('old-intermediate', {
        subject: '/O=test/CN=Old Intermediate',
        ext: EXT.intermediate,
        issuer: 'root',
        days: -1,
      });
      await leafWith('under-old', EXT.leaf, 'old-intermediate');
      expect(check(['under-old', 'old-intermediate', 'root'], 'under-old')).toThrow(
        /^x509: certificate signed by unknown authority \(possibly because of "x509: certificate has expired or is not yet valid: .*" while trying to verify candidate authority certificate "Old Intermediate"\)$/,
      );
    });

    it('a leaf signed by the wrong key', async () => {
      // Same subject as the real intermediate, another key: the leaf names the right issuer.
      await pki.key('impostor');
      await pki.cert('impostor', {
        subject: '/O=test/CN=Test Intermediate',
        ext: EXT.intermediate,
        issuer: 'root',
      });
      await leafWith('forged', EXT.leaf, 'impostor');
      expect(check(['forged', 'intermediate', 'root'], 'forged')).toThrow(
        'x509: certificate signed by unknown authority (possibly because of "x509: signature verification failure" while trying to verify candidate authority certificate "Test Intermediate")',
      );
    });

    it('a root whose RSA key is under 2048 bits (the verifier would refuse every token)', async () => {
      await pki.key('weak-root', 'RSA-1024');
      await pki.cert('weak-root', { subject: '/O=test/CN=Weak Root', ext: EXT.root });
      await leafWith('under-weak-root', EXT.leaf, 'weak-root');
      expect(check(['under-weak-root', 'weak-root'], 'under-weak-root')).toThrow(
        'x509: certificate signed by unknown authority (possibly because of "x509: cannot verify signature: the issuer\'s RSA key has 1024 bits, fewer than 2048"',
      );
    });

    it('an issuer or a leaf whose RSA public exponent is over 2^31-1 (Go and the verifier refuse them)', async () => {
      const bigExponentKey = async (name: string) =>
        openssl([
          'genpkey',
          '-algorithm',
          'RSA',
          '-pkeyopt',
          'rsa_keygen_bits:2048',
          '-pkeyopt',
          'rsa_keygen_pubexp:4294967297',
          '-out',
          pki.path(`${name}.key`),
        ]);
      await bigExponentKey('big-e-root');
      await pki.cert('big-e-root', { subject: '/O=test/CN=Big Exponent Root', ext: EXT.root });
      await leafWith('under-big-e-root', EXT.leaf, 'big-e-root');
      expect(check(['under-big-e-root', 'big-e-root'], 'under-big-e-root')).toThrow(
        'x509: certificate signed by unknown authority (possibly because of "x509: cannot verify signature: the issuer\'s RSA public exponent 4294967297 (must be odd, from 3 to 2^31-1)"',
      );
      await bigExponentKey('big-e-leaf');
      await pki.cert('big-e-leaf', {
        subject: '/O=test/CN=big-e-leaf',
        ext: EXT.leaf,
        issuer: 'intermediate',
      });
      expect(check(['big-e-leaf', 'intermediate', 'root'], 'big-e-leaf')).toThrow(
        "the leaf certificate's RSA public exponent 4294967297 (must be odd, from 3 to 2^31-1): tokens signed with it would not verify",
      );
    });

    it('a chain that does not reach the root', async () => {
      await pki.key('other-root');
      await pki.cert('other-root', { subject: '/O=test/CN=Other Root', ext: EXT.root });
      expect(check(['leaf', 'intermediate', 'other-root'])).toThrow(
        'x509: certificate signed by unknown authority',
      );
    });

    it('an intermediate whose pathlen forbids the intermediate below it', async () => {
      await pki.key('pathlen0');
      await pki.cert('pathlen0', {
        subject: '/O=test/CN=Pathlen Zero',
        ext: EXT.intermediate.replace('CA:TRUE', 'CA:TRUE,pathlen:0'),
        issuer: 'root',
      });
      await pki.key('below');
      await pki.cert('below', {
        subject: '/O=test/CN=Below',
        ext: EXT.intermediate,
        issuer: 'pathlen0',
      });
      await leafWith('deep', EXT.leaf, 'below');
      expect(check(['deep', 'below', 'pathlen0', 'root'], 'deep')).toThrow(
        /possibly because of "x509: too many intermediates for path length constraint"/,
      );
    });

    it('an intermediate whose EKU excludes timeStamping (Go EKU chaining)', async () => {
      await pki.key('server-ca');
      await pki.cert('server-ca', {
        subject: '/O=test/CN=Server CA',
        ext: EXT.intermediate.replace(
          'extendedKeyUsage=timeStamping',
          'extendedKeyUsage=serverAuth',
        ),
        issuer: 'root',
      });
      await leafWith('under-server-ca', EXT.leaf, 'server-ca');
      expect(check(['under-server-ca', 'server-ca', 'root'], 'under-server-ca', false)).toThrow(
        'x509: certificate specifies an incompatible key usage',
      );
    });

    describe('certificate policies, as Go ≥ 1.22 processes them (the verifier’s test compares more with openssl)', () => {
      async function policyCa(name: string, extensions: string) {
        await pki.key(name);
        await pki.cert(name, {
          subject: `/O=test/CN=${name}`,
          ext: `${EXT.intermediate}\n${extensions}`,
          issuer: 'root',
        });
      }

      it('a chain that requires an explicit policy starts only where the leaf keeps one', async () => {
        await policyCa(
          'explicit-ca',
          'policyConstraints=critical,requireExplicitPolicy:0\ncertificatePolicies=1.2.3.4',
        );
        await leafWith('kept', `${EXT.leaf}\ncertificatePolicies=1.2.3.4`, 'explicit-ca');
        expect(check(['kept', 'explicit-ca', 'root'], 'kept')).not.toThrow();
        await leafWith('dropped', EXT.leaf, 'explicit-ca');
        expect(check(['dropped', 'explicit-ca', 'root'], 'dropped')).toThrow(
          /^x509: no valid chains built: all candidate chains have invalid policies/,
        );
      });

      it('a SkipCerts past any chain’s length requires nothing; a negative one does not parse', async () => {
        // requireExplicitPolicy [0] 2^64: SEQUENCE { [0] 01 00 .. 00 }
        await policyCa('far-ca', '2.5.29.36=critical,DER:30:0B:80:09:01:00:00:00:00:00:00:00:00');
        await leafWith('under-far', EXT.leaf, 'far-ca');
        expect(check(['under-far', 'far-ca', 'root'], 'under-far')).not.toThrow();
        await policyCa('negative-ca', '2.5.29.36=critical,DER:30:03:80:01:FF');
        await leafWith('under-negative', EXT.leaf, 'negative-ca');
        expect(check(['under-negative', 'negative-ca', 'root'], 'under-negative')).toThrow(
          'certificate 1 of the chain does not parse: a policy extension has a negative SkipCerts',
        );
      });

      it('a mapping to anyPolicy is refused', async () => {
        await policyCa(
          'any-mapping-ca',
          'certificatePolicies=1.2.3.4\n2.5.29.33=critical,DER:30:0D:30:0B:06:03:2A:03:04:06:04:55:1D:20:00',
        );
        await leafWith('under-any-mapping', EXT.leaf, 'any-mapping-ca');
        expect(check(['under-any-mapping', 'any-mapping-ca', 'root'], 'under-any-mapping')).toThrow(
          'maps a policy to or from anyPolicy',
        );
      });
    });

    describe('name constraints on a CA, against the subjectAltNames below it', () => {
      async function constrainedCa(name: string, constraint: string) {
        await pki.key(name);
        await pki.cert(name, {
          subject: `/O=test/CN=${name}`,
          ext: `${EXT.intermediate}\nnameConstraints=${constraint}`,
          issuer: 'root',
        });
      }

      it('a permitted DNS name passes, another fails', async () => {
        await constrainedCa('dns-ca', 'critical,permitted;DNS:example.com');
        await leafWith('dns-good', `${EXT.leaf}\nsubjectAltName=DNS:tsa.example.com`, 'dns-ca');
        expect(check(['dns-good', 'dns-ca', 'root'], 'dns-good')).not.toThrow();
        await leafWith('dns-bad', `${EXT.leaf}\nsubjectAltName=DNS:tsa.example.org`, 'dns-ca');
        expect(check(['dns-bad', 'dns-ca', 'root'], 'dns-bad')).toThrow(
          'x509: certificate signed by unknown authority (possibly because of "x509: a root or intermediate certificate is not authorized to sign for this name: DNS name \\"tsa.example.org\\" is not permitted by any constraint" while trying to verify candidate authority certificate "dns-ca")',
        );
      });

      it('an excluded IP range', async () => {
        await constrainedCa('ip-ca', 'critical,excluded;IP:10.0.0.0/255.0.0.0');
        await leafWith('ip-bad', `${EXT.leaf}\nsubjectAltName=IP:10.1.2.3`, 'ip-ca');
        expect(check(['ip-bad', 'ip-ca', 'root'], 'ip-bad')).toThrow(
          'IP address \\"10.1.2.3\\" is excluded by constraint \\"10.0.0.0/8\\"',
        );
        await leafWith('ip-good', `${EXT.leaf}\nsubjectAltName=IP:192.0.2.1`, 'ip-ca');
        expect(check(['ip-good', 'ip-ca', 'root'], 'ip-good')).not.toThrow();
      });

      it('a leaf without subjectAltName is not constrained; a critical directoryName constraint is unhandled', async () => {
        await constrainedCa('dir-ca', 'critical,permitted;dirName:dir_sect\n[dir_sect]\nO=test');
        await leafWith('under-dir', EXT.leaf, 'dir-ca');
        expect(check(['under-dir', 'dir-ca', 'root'], 'under-dir')).toThrow(
          /x509: unhandled critical extension/,
        );
        await leafWith('no-san', EXT.leaf, 'dns-ca');
        expect(check(['no-san', 'dns-ca', 'root'], 'no-san')).not.toThrow();
      });
    });

    it('an unknown critical extension on the leaf', async () => {
      await leafWith('odd', `${EXT.leaf}\n1.2.3.4.5=critical,ASN1:UTF8String:odd`);
      expect(check(['odd', 'intermediate', 'root'], 'odd')).toThrow(
        'x509: unhandled critical extension',
      );
    });
  });

  it.each([
    // What `certificates create --root-lifetime 90000000h` wrote: a five-digit year.
    ['notAfter', UNREADABLE_TIME.fiveDigitYear],
    // ... and --root-lifetime 9000000000000h: an Invalid Date written as UTCTime.
    ['notAfter', UNREADABLE_TIME.nanUtcTime],
    ['notBefore', UNREADABLE_TIME.nanUtcTime],
  ] as const)(
    'a root whose %s cannot be read (Go refuses it at parse time), not taken as valid forever',
    (field, time) => {
      const [leaf, intermediate, root] = der('leaf', 'intermediate', 'root');
      const unreadable = withTime(root!, field, time);
      expect(new X509Certificate(unreadable)[field === 'notAfter' ? 'validTo' : 'validFrom']).toBe(
        'Bad time value',
      );
      let refusal: unknown;
      try {
        verifyCertChain([leaf!, intermediate!, unreadable], publicKeyOf('leaf'), {
          enforceIntermediateEku: true,
        });
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(ChainRuleError);
      expect(refusal).toMatchObject({
        code: 'INVALID_CERTIFICATE',
        message:
          `certificate 2 of the chain "Test Root" has a ${field} that cannot be read ` +
          '("Bad time value": a year past 9999 or a malformed time); Go\'s crypto/x509 refuses ' +
          'to parse such a certificate, and openssl ts -verify refuses its tokens',
      });
    },
  );

  it('a leaf with an extension twice (RFC 5280 section 4.2), which Go refuses at parse time', async () => {
    const [leaf, intermediate, root] = der('leaf', 'intermediate', 'root');
    const intermediateKey = createPrivateKey(readFileSync(pki.path('intermediate.key')));
    const twice = await withExtensionTwice(leaf!, '2.5.29.37', async (tbs) =>
      sign('sha256', tbs, intermediateKey),
    );
    // Signed by its issuer: only the repetition is wrong with it.
    expect(new X509Certificate(twice).verify(new X509Certificate(intermediate!).publicKey)).toBe(
      true,
    );
    expect(() =>
      verifyCertChain([twice, intermediate!, root!], publicKeyOf('leaf'), {
        enforceIntermediateEku: true,
      }),
    ).toThrow(
      'certificate 0 of the chain does not parse: the certificate has extension 2.5.29.37 twice',
    );
  });

  it('a leaf whose EC key gives its curve as explicit parameters, which Go refuses at parse time', async () => {
    const { publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      paramEncoding: 'explicit',
    });
    await pki.cert('explicit-curve', {
      subject: '/O=test/CN=explicit-curve',
      ext: EXT.leaf,
      issuer: 'intermediate',
      csrKey: 'leaf',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    });
    expect(() =>
      verifyCertChain(der('explicit-curve', 'intermediate', 'root'), publicKey, {
        enforceIntermediateEku: true,
      }),
    ).toThrow(
      'certificate 0 of the chain does not parse: x509: invalid ECDSA parameters: the public key does not name its curve (explicit parameters, or none)',
    );
  });

  it('rule 5: a root that is not a CA (an X.509 v1 root passes Go Verify, then fails here)', async () => {
    await pki.key('v1-root');
    await pki.cert('v1-root', { subject: '/O=test/CN=V1 Root' });
    await leafWith('under-v1', EXT.leaf.replace('\nauthorityKeyIdentifier=keyid', ''), 'v1-root');
    expect(check(['under-v1', 'v1-root'], 'under-v1')).toThrow(
      'certificate is not a CA certificate',
    );
  });

  it('rule 6: a CA leaf', async () => {
    await leafWith('ca-leaf', `basicConstraints=critical,CA:TRUE\n${EXT.leaf}`);
    expect(check(['ca-leaf', 'intermediate', 'root'], 'ca-leaf')).toThrow(
      'leaf certificate must be an end-entity certificate, not a CA',
    );
  });

  it('rule 7: a leaf with two EKUs, or none', async () => {
    await leafWith(
      'two-ekus',
      EXT.leaf.replace('critical,timeStamping', 'critical,timeStamping,codeSigning'),
    );
    expect(check(['two-ekus', 'intermediate', 'root'], 'two-ekus')).toThrow(
      'certificate should only contain one EKU',
    );
    await leafWith('no-eku', 'keyUsage=critical,digitalSignature');
    expect(check(['no-eku', 'intermediate', 'root'], 'no-eku')).toThrow(
      'certificate should only contain one EKU',
    );
  });

  it('rule 8: a non-critical leaf EKU', async () => {
    await leafWith('soft-eku', EXT.leaf.replace('critical,timeStamping', 'timeStamping'));
    expect(check(['soft-eku', 'intermediate', 'root'], 'soft-eku')).toThrow(
      'certificate must set EKU to critical',
    );
  });

  it('rule 9: an intermediate without the timeStamping EKU, unless --enforce-intermediate-eku=false', async () => {
    await pki.key('plain-ca');
    await pki.cert('plain-ca', {
      subject: '/O=test/CN=Plain CA',
      ext: EXT.intermediate.replace('extendedKeyUsage=timeStamping\n', ''),
      issuer: 'root',
    });
    await leafWith('under-plain', EXT.leaf, 'plain-ca');
    expect(check(['under-plain', 'plain-ca', 'root'], 'under-plain')).toThrow(
      'certificate must have extended key usage timestamping set to sign timestamping certificates',
    );
    expect(check(['under-plain', 'plain-ca', 'root'], 'under-plain', false)).not.toThrow();
  });

  it('rule 10: a signer whose key is not the leaf key', () => {
    expect(check(['leaf', 'intermediate', 'root'], 'intermediate')).toThrow(
      'public keys are not equal',
    );
  });

  describe("rules 11 and 12, beyond Go: the leaf's purpose as RFC 3161 section 2.3 and openssl ts -verify require", () => {
    /** openssl's own verdict on the leaf for time-stamp signing (check_purpose_timestamp_sign). */
    const opensslVerdict = (name: string) =>
      openssl([
        'verify',
        '-purpose',
        'timestampsign',
        '-CAfile',
        pki.path('root.pem'),
        '-untrusted',
        pki.path('intermediate.pem'),
        pki.path(`${name}.pem`),
      ]).then(
        (output) => output,
        (error: Error) => error.message,
      );
    const refusal = (name: string): unknown => {
      try {
        check([name, 'intermediate', 'root'], name)();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const KEY_USAGE_RULE =
      'it must allow digitalSignature or nonRepudiation and nothing else, or be absent ' +
      '(openssl ts -verify refuses the tokens of any other: unsuitable certificate purpose)';

    it.each([
      {
        leaf: 'any-eku',
        what: 'a critical anyExtendedKeyUsage as the one EKU',
        ext: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,anyExtendedKeyUsage',
        code: 'EXTENDED_KEY_USAGE',
        message:
          "the TSA certificate's extended key usage must be id-kp-timeStamping (RFC 3161 section 2.3), not anyExtendedKeyUsage",
      },
      {
        leaf: 'key-encipherment',
        what: 'keyUsage keyEncipherment',
        ext: 'keyUsage=critical,keyEncipherment\nextendedKeyUsage=critical,timeStamping',
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows keyEncipherment: ${KEY_USAGE_RULE}`,
      },
      {
        leaf: 'cert-sign',
        what: 'keyUsage digitalSignature and keyCertSign',
        ext: 'keyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=critical,timeStamping',
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows digitalSignature, keyCertSign: ${KEY_USAGE_RULE}`,
      },
      {
        leaf: 'non-repudiation-encipherment',
        what: 'keyUsage nonRepudiation and keyEncipherment',
        ext: 'keyUsage=critical,nonRepudiation,keyEncipherment\nextendedKeyUsage=critical,timeStamping',
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows nonRepudiation, keyEncipherment: ${KEY_USAGE_RULE}`,
      },
      {
        leaf: 'decipher-only',
        what: 'keyUsage digitalSignature, keyAgreement and decipherOnly (bit 8, in the second octet)',
        ext: 'keyUsage=critical,digitalSignature,keyAgreement,decipherOnly\nextendedKeyUsage=critical,timeStamping',
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows digitalSignature, keyAgreement, decipherOnly: ${KEY_USAGE_RULE}`,
      },
      {
        leaf: 'unnamed-bit',
        what: 'keyUsage digitalSignature and bit 9, which RFC 5280 does not name (Go ignores it)',
        ext: 'keyUsage=critical,DER:03:03:06:80:40\nextendedKeyUsage=critical,timeStamping',
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows digitalSignature, bit 9: ${KEY_USAGE_RULE}`,
      },
    ])('refuses $what, as openssl does', async ({ leaf, ext, code, message }) => {
      await leafWith(leaf, ext);
      expect(await opensslVerdict(leaf)).toContain('unsuitable certificate purpose');
      const error = refusal(leaf);
      expect(error).toBeInstanceOf(ChainRuleError);
      expect(error).toMatchObject({ code, message });
    });

    it('refuses an empty keyUsage (OpenSSL: an invalid certificate)', async () => {
      await leafWith(
        'empty-key-usage',
        'keyUsage=critical,DER:03:01:00\nextendedKeyUsage=critical,timeStamping',
      );
      expect(await opensslVerdict('empty-key-usage')).toContain('invalid certificate');
      expect(refusal('empty-key-usage')).toMatchObject({
        code: 'INCOMPATIBLE_KEY_USAGE',
        message: `the TSA certificate's keyUsage allows nothing: ${KEY_USAGE_RULE}`,
      });
    });

    it.each([
      { leaf: 'leaf', what: 'keyUsage digitalSignature (the conventional leaf)' },
      {
        leaf: 'non-repudiation',
        what: 'keyUsage nonRepudiation',
        ext: 'keyUsage=critical,nonRepudiation\nextendedKeyUsage=critical,timeStamping',
      },
      {
        leaf: 'both-signing-bits',
        what: 'keyUsage digitalSignature and nonRepudiation, not critical',
        ext: 'keyUsage=digitalSignature,nonRepudiation\nextendedKeyUsage=critical,timeStamping',
      },
      {
        leaf: 'bit-16',
        what: 'keyUsage digitalSignature and bit 16 (OpenSSL reads two octets only)',
        ext: 'keyUsage=critical,DER:03:04:07:80:00:80\nextendedKeyUsage=critical,timeStamping',
      },
      {
        leaf: 'no-key-usage',
        what: 'no keyUsage',
        ext: 'extendedKeyUsage=critical,timeStamping',
      },
    ])('accepts $what, as openssl does', async ({ leaf, ext }) => {
      if (ext) await leafWith(leaf, ext);
      expect(await opensslVerdict(leaf)).toMatch(/: OK\n/);
      expect(refusal(leaf)).toBeUndefined();
    });

    it("comes after Go's rules: a chain Go refuses keeps Go's message", async () => {
      await leafWith(
        'any-eku-ca',
        'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nextendedKeyUsage=critical,anyExtendedKeyUsage',
      );
      expect(check(['any-eku-ca', 'intermediate', 'root'], 'any-eku-ca')).toThrow(
        'leaf certificate must be an end-entity certificate, not a CA',
      );
      await leafWith(
        'any-eku-other-key',
        'keyUsage=critical,keyCertSign\nextendedKeyUsage=critical,anyExtendedKeyUsage',
      );
      expect(check(['any-eku-other-key', 'intermediate', 'root'], 'leaf')).toThrow(
        'public keys are not equal',
      );
    });
  });

  describe("rule 13, beyond Go: the leaf's private key usage period holds now", () => {
    const HOUR = 3_600_000;
    const at = (offset: number) => new Date(Math.floor(Date.now() / 1000) * 1000 + offset);
    const rfc3339 = (date: Date) => date.toISOString().replace('.000Z', 'Z');
    const refusal = (name: string): unknown => {
      try {
        verifyCertChain(der(name, 'intermediate', 'root'), publicKeyOf(name), {
          enforceIntermediateEku: true,
        });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const leafWithPeriod = (name: string, period: { notBefore?: Date; notAfter?: Date }) =>
      leafWith(name, `${EXT.leaf}\n${privateKeyUsagePeriodExt(period)}`);

    it('openssl reads the extension the tests write as the privateKeyUsagePeriod', async () => {
      await leafWithPeriod('period-text', {
        notBefore: new Date('2026-01-02T03:04:05Z'),
        notAfter: new Date('2026-07-08T09:10:11Z'),
      });
      const text = await openssl(['x509', '-noout', '-text', '-in', pki.path('period-text.pem')]);
      expect(text).toMatch(
        /Private Key Usage Period:\s*\n\s*Not Before: Jan +2 03:04:05 2026 GMT, Not After: Jul +8 09:10:11 2026 GMT/,
      );
    });

    it('accepts a leaf within its period, or with one bound that holds', async () => {
      await leafWithPeriod('period-now', { notBefore: at(-HOUR), notAfter: at(HOUR) });
      await leafWithPeriod('period-until', { notAfter: at(HOUR) });
      await leafWithPeriod('period-from', { notBefore: at(-HOUR) });
      expect(refusal('period-now')).toBeUndefined();
      expect(refusal('period-until')).toBeUndefined();
      expect(refusal('period-from')).toBeUndefined();
    });

    it('refuses a leaf whose period has ended, though the certificate is valid', async () => {
      const notAfter = at(-HOUR);
      await leafWithPeriod('period-ended', { notBefore: at(-2 * HOUR), notAfter });
      const error = refusal('period-ended');
      expect(error).toBeInstanceOf(ChainRuleError);
      expect(error).toMatchObject({
        code: 'PRIVATE_KEY_USAGE_PERIOD',
        message: expect.stringMatching(
          new RegExp(
            `^the TSA certificate's private key usage period ended at ${rfc3339(notAfter)}, before the current time \\S+Z: its key may sign no more`,
          ),
        ),
      });
    });

    it('refuses a leaf whose period has not begun', async () => {
      const notBefore = at(HOUR);
      await leafWithPeriod('period-later', { notBefore });
      expect(refusal('period-later')).toMatchObject({
        code: 'PRIVATE_KEY_USAGE_PERIOD',
        message: expect.stringContaining(
          `the TSA certificate's private key usage period begins at ${rfc3339(notBefore)}, after the current time`,
        ),
      });
    });

    it('refuses a period that cannot be read, saying why', async () => {
      const [start, end] = [at(HOUR), at(-HOUR)];
      await leafWithPeriod('period-reversed', { notBefore: start, notAfter: end });
      expect(refusal('period-reversed')).toMatchObject({
        code: 'INVALID_CERTIFICATE',
        message: `the TSA certificate's private key usage period cannot be read: it ends (${end.toISOString()}) before it begins (${start.toISOString()})`,
      });
      await leafWith(
        'period-utc-time',
        `${EXT.leaf}\n${privateKeyUsagePeriodExt({ notAfter: at(HOUR) }, (date) => date.toISOString().replace(/^\d\d|[-:T]|\.\d{3}/g, ''))}`,
      );
      expect(refusal('period-utc-time')).toMatchObject({
        code: 'INVALID_CERTIFICATE',
        message: expect.stringMatching(
          /^the TSA certificate's private key usage period cannot be read: its notAfter "\d{12}Z" is not a GeneralizedTime YYYYMMDDHHMMSSZ$/,
        ),
      });
    });

    it("comes after Go's rules: an expired leaf keeps Go's message", async () => {
      await leafWith(
        'expired-period-ended',
        `${EXT.leaf}\n${privateKeyUsagePeriodExt({ notAfter: at(-2 * 86_400_000) })}`,
        'intermediate',
        { days: -1 },
      );
      expect(refusal('expired-period-ended')).toMatchObject({ code: 'INVALID_CERTIFICATE' });
      expect((refusal('expired-period-ended') as Error).message).toMatch(/has expired/);
    });
  });

  it('checks the rules in Go order: rule 4 before rule 7', async () => {
    await leafWith(
      'expired-two-ekus',
      EXT.leaf.replace('critical,timeStamping', 'critical,timeStamping,codeSigning'),
      'intermediate',
      { days: -1 },
    );
    expect(check(['expired-two-ekus', 'intermediate', 'root'], 'expired-two-ekus')).toThrow(
      /has expired/,
    );
  });
});
