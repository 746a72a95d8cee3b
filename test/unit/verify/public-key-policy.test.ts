import { createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { oid } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { TokenEncoder } from '../../../src/tsp/token-encoder.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
} from '../../../src/x509/certificate-builder.js';
import { encodeName } from '../../../src/x509/name.js';
import { verifyTimestampResponse } from '../../../src/index.js';
import { keyProblem } from '../../../src/verify/algorithm-policy.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';
import { FORGED_AT } from './forged-token.js';
import { verificationRefusal } from '../../helpers/verification.js';

const artifact = Buffer.from('rsa key policy\n');
const DAY = 86_400_000;
const rsaModulus = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
  format: 'jwk',
}).n as string;

/** An RSA public key with a 2048-bit modulus and public exponent `e` (no private key fits it). */
function rsaKeyWithExponent(e: bigint): KeyObject {
  const hex = e.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return createPublicKey({
    key: { kty: 'RSA', n: rsaModulus, e: bytes.toString('base64url') },
    format: 'jwk',
  });
}

/** Go's crypto/rsa bound (and RFC 8017 section 3.1's 3 <= e, e odd). */
describe('the RSA public exponent', () => {
  it.each([3n, 65537n, 2n ** 31n - 1n])('%s is accepted', (e) => {
    expect(keyProblem(rsaKeyWithExponent(e))).toBeUndefined();
  });

  it.each([
    [2n ** 31n + 1n, 'RSA public exponent of 32 bits, more than 2^31-1'],
    [2n ** 64n + 1n, 'RSA public exponent of 65 bits, more than 2^31-1'],
    [1n, 'RSA public exponent 1, less than 3'],
    [2n, 'RSA public exponent 2, less than 3'],
    [65536n, 'even RSA public exponent 65536'],
  ])('%s is refused', (e, expected) => {
    expect(keyProblem(rsaKeyWithExponent(e))).toBe(expected);
  });
});

/**
 * A refused key is refused before it checks any signature: a token can embed many certificates
 * its sid designates, each with an exponent of thousands of bits (one check each cost as much as
 * a private-key operation). Each case shows the key refused where a signature check would have
 * failed (or succeeded) otherwise.
 */
describe('keys are judged before they check signatures', () => {
  let pki: Pki;
  let rsaSigner: LocalKeySigner;
  const leafSerial = Buffer.from('0101', 'hex');

  const issuerOf = (name: Pki['intermediate'], keyId?: Buffer) => ({
    name: encodeName(name.subject),
    signer: name.signer,
    subjectKeyIdentifier: keyId ?? subjectKeyIdentifier(name.signer.publicKey),
  });
  const leafTemplate = (publicKey: KeyObject) => ({
    subject: { organization: 'test', commonName: 'RSA TSA' },
    notBefore: new Date(FORGED_AT.getTime() - 30 * DAY),
    notAfter: new Date(FORGED_AT.getTime() + 365 * DAY),
    publicKey,
    keyUsage: [KeyUsage.digitalSignature],
    extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    serialNumber: leafSerial,
  });

  /** A token signed by `signer` whose sid names `certificates[0]`, all of them embedded. */
  async function token(
    certificates: Buffer[],
    signer: LocalKeySigner = rsaSigner,
  ): Promise<Buffer> {
    const encoder = encoderFor(signer, certificates, true);
    return encoder.encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('0c', 'hex'),
      genTime: encoder.genTimeAt(FORGED_AT.getTime()),
    });
  }

  const refusal = (tsr: Buffer) =>
    verificationRefusal(
      verifyTimestampResponse(tsr, artifact, {
        roots: [pki.root.der],
        intermediates: [pki.intermediate.der],
      }),
    );

  beforeAll(async () => {
    pki = await makePki({}, FORGED_AT);
    rsaSigner = new LocalKeySigner(
      'rsa leaf',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      'sha256',
    );
  });

  it('a certificate the sid designates, with a 65-bit exponent, is refused, not tried', async () => {
    const heavy = await createCertificate(
      leafTemplate(rsaKeyWithExponent(2n ** 64n + 1n)),
      issuerOf(pki.intermediate),
    );
    const error = await refusal(await token([heavy]));
    expect(error.code).toBe('tsa-certificate');
    expect(error.message).toBe(
      'failed to verify TSA certificate: the signer key is refused: RSA public exponent of 65 bits, more than 2^31-1',
    );
  });

  it('more than 4 different certificates the sid designates are refused; copies count once', async () => {
    const leaf = await createCertificate(
      leafTemplate(rsaSigner.publicKey),
      issuerOf(pki.intermediate),
    );
    // Same issuer and serial as the leaf (what the sid names), other keys.
    const others = await Promise.all(
      [1, 2, 3, 4].map(() =>
        createCertificate(
          leafTemplate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
          issuerOf(pki.intermediate),
        ),
      ),
    );
    const trust = { roots: [pki.root.der], intermediates: [pki.intermediate.der] };
    await expect(
      verifyTimestampResponse(await token([leaf, ...others.slice(0, 3)]), artifact, trust),
    ).resolves.toBeDefined();
    await expect(
      verifyTimestampResponse(await token([leaf, leaf, leaf, leaf, leaf, leaf]), artifact, trust),
    ).resolves.toBeDefined();
    const error = await refusal(await token([leaf, ...others]));
    expect(error.code).toBe('signature');
    expect(error.message).toBe(
      'error while verifying signature: the SignerInfo sid designates more than 4 different certificates',
    );
  });

  it('an issuer with a 65-bit exponent is refused before it checks the certificate below it', async () => {
    const heavyKey = rsaKeyWithExponent(2n ** 64n + 1n);
    const heavyCa = await createCertificate(
      {
        subject: { organization: 'test', commonName: 'Heavy CA' },
        notBefore: new Date(FORGED_AT.getTime() - 30 * DAY),
        notAfter: new Date(FORGED_AT.getTime() + 365 * DAY),
        publicKey: heavyKey,
        basicConstraints: {},
        keyUsage: [KeyUsage.keyCertSign],
      },
      issuerOf(pki.intermediate),
    );
    // Names Heavy CA as its issuer; signed by another RSA key (no private key fits heavyKey).
    const leaf = await createCertificate(leafTemplate(rsaSigner.publicKey), {
      name: encodeName({ organization: 'test', commonName: 'Heavy CA' }),
      signer: rsaSigner,
      subjectKeyIdentifier: subjectKeyIdentifier(heavyKey),
    });
    const error = await refusal(await token([leaf, heavyCa]));
    expect(error.code).toBe('chain');
    expect(error.message).toBe(
      'error while verifying signer certificate chain: x509: "O=test, CN=Heavy CA" has a refused key: RSA public exponent of 65 bits, more than 2^31-1',
    );
  });

  it('a signer key that gives its curve as explicit parameters is refused (RFC 5480 section 2.1.1, as Go and OpenSSL)', async () => {
    // Node reads such a key, signs with it and names its curve: only the encoding is wrong.
    const explicit = generateKeyPairSync('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' });
    const signer = new LocalKeySigner('explicit curve', explicit.privateKey, 'sha256');
    const named = createPublicKey({
      key: explicit.publicKey.export({ format: 'jwk' }),
      format: 'jwk',
    });
    const namedLeaf = await createCertificate(leafTemplate(named), issuerOf(pki.intermediate));
    const leaf = await createCertificate(
      leafTemplate(explicit.publicKey),
      issuerOf(pki.intermediate),
    );
    expect(new X509Certificate(leaf).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    // The server refuses to load such a certificate (src/x509/certificate.ts): the token embeds
    // it in place of its named twin (same issuer and serial).
    const encoder = new TokenEncoder({
      signer,
      chain: [{ ...parseCertificate(namedLeaf), der: leaf }],
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: true,
    });
    const tsr = await encoder.encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('0d', 'hex'),
      genTime: encoder.genTimeAt(FORGED_AT.getTime()),
    });
    const error = await refusal(tsr);
    expect(error.code).toBe('tsa-certificate');
    expect(error.message).toBe(
      'failed to verify TSA certificate: the signer key is refused: elliptic curve prime256v1 given by explicit parameters: RFC 5480 section 2.1.1 allows a named curve only',
    );
    // The same key, its curve named, is accepted.
    await expect(
      verifyTimestampResponse(await token([namedLeaf], signer), artifact, {
        roots: [pki.root.der],
        intermediates: [pki.intermediate.der],
      }),
    ).resolves.toBeDefined();
  });
});
