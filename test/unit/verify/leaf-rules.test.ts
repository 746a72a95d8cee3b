import { beforeAll, describe, expect, it } from 'vitest';
import { oid, set } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { KeyUsage } from '../../../src/x509/certificate-builder.js';
import { verifyTimestampResponse } from '../../../src/index.js';
import { verificationRefusal as refusal } from '../../helpers/verification.js';
import { encodePem } from '../../../src/x509/pem.js';
import { tempDir } from '../../helpers/openssl.js';
import { acceptedRequest, encoderFor, issueToken, makePki, type Pki } from '../../helpers/pki.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { withExtensionTwice } from '../../helpers/certificate-extensions.js';
import { TokenEncoder } from '../../../src/tsp/token-encoder.js';
import { parseCertificate } from '../../../src/x509/certificate.js';

const artifact = Buffer.from('leaf rules\n');
const DAY = 86_400_000;
// A fixed instant: no test here depends on the wall clock.
const NOW = new Date('2030-06-01T12:00:00Z');

/** A token at `genTime` without the signingTime attribute (as some TSAs issue them). */
async function tokenWithoutSigningTime(pki: Pki, genTime: Date): Promise<Buffer> {
  const encoder = encoderFor(pki.leaf.signer, [pki.leaf.der], false);
  const fields = {
    request: acceptedRequest({ artifact }),
    serialNumber: Buffer.from('02', 'hex'),
    genTime: encoder.genTimeAt(genTime.getTime()),
  };
  const tstInfo = encoder.encodeTstInfo(fields);
  const signingTime = oid(OID.signingTime);
  const attributes = encoder
    .encodeSignedAttributes(tstInfo, fields.genTime)
    .filter((attribute) => !attribute.includes(signingTime));
  expect(attributes).toHaveLength(3); // contentType, messageDigest, signingCertificateV2
  const signature = await pki.leaf.signer.sign(set(...attributes));
  return encoder.assemble(tstInfo, attributes, signature, true);
}

/** What `openssl ts -verify` says of `token` under `pki`'s root: its output, or its failure's. */
async function opensslVerdict(pki: Pki, token: Buffer): Promise<string> {
  const files = tempDir();
  try {
    return await opensslTsVerify(
      files.write('reply.tsr', token),
      { data: files.write('artifact', artifact) },
      {
        root: files.write('root.pem', encodePem('CERTIFICATE', pki.root.der)),
        untrusted: files.write('intermediate.pem', encodePem('CERTIFICATE', pki.intermediate.der)),
      },
    ).then(
      (output) => output,
      (error: Error) => error.message,
    );
  } finally {
    files.cleanup();
  }
}

describe('genTime within the TSA certificate validity, whatever currentTime (F5)', () => {
  type Case = { pki: Pki; token: Buffer };
  const trust = ({ pki, token }: Case, currentTime?: Date) =>
    verifyTimestampResponse(token, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
      ...(currentTime ? { currentTime } : {}),
    });
  const at = async (pki: Pki): Promise<Case> => ({
    pki,
    token: await tokenWithoutSigningTime(pki, NOW),
  });
  let notYetValid: Case;
  let expired: Case;
  beforeAll(async () => {
    // Leaf valid from NOW + 1 day; the token says NOW.
    notYetValid = await at(
      await makePki(
        {
          leaf: {
            notBefore: new Date(NOW.getTime() + DAY),
            notAfter: new Date(NOW.getTime() + 30 * DAY),
          },
        },
        NOW,
      ),
    );
    // Leaf expired a day before the token's NOW.
    expired = await at(
      await makePki(
        {
          leaf: {
            notBefore: new Date(NOW.getTime() - 30 * DAY),
            notAfter: new Date(NOW.getTime() - DAY),
          },
        },
        NOW,
      ),
    );
  });

  it('a genTime before the leaf notBefore is refused though the chain holds at currentTime', async () => {
    const error = await refusal(trust(notYetValid, new Date(NOW.getTime() + 2 * DAY)));
    expect(error.code).toBe('tsa-certificate');
    expect(error.message).toMatch(
      /^failed to verify TSA certificate: the token's genTime 2030-06-01T12:00:00.000Z is outside its validity/,
    );
  });

  it('a genTime after the leaf notAfter is refused though the chain holds at currentTime', async () => {
    const error = await refusal(trust(expired, new Date(NOW.getTime() - 2 * DAY)));
    expect(error.code).toBe('tsa-certificate');
  });

  it('without currentTime the chain check at genTime refuses it, as before', async () => {
    expect((await refusal(trust(notYetValid))).message).toMatch(/not yet valid/);
  });

  it('a genTime inside the validity verifies at another currentTime', async () => {
    const valid = await at(await makePki({}, NOW));
    await expect(trust(valid, new Date(NOW.getTime() + 10 * DAY))).resolves.toBeDefined();
  });
});

describe('TSA certificate keyUsage (F6): digitalSignature and/or nonRepudiation, nothing else', () => {
  const NEITHER = 'keyUsage allows neither digitalSignature nor nonRepudiation';
  const ONLY = 'only digitalSignature and nonRepudiation may be set';
  it.each([
    ['digitalSignature', [KeyUsage.digitalSignature], null],
    ['nonRepudiation (contentCommitment)', [KeyUsage.contentCommitment], null],
    [
      'digitalSignature and nonRepudiation',
      [KeyUsage.digitalSignature, KeyUsage.contentCommitment],
      null,
    ],
    // openssl ts -verify refuses these too: "unsuitable certificate purpose".
    [
      'digitalSignature and keyCertSign',
      [KeyUsage.digitalSignature, KeyUsage.keyCertSign],
      `keyUsage also allows keyCertSign: ${ONLY}`,
    ],
    [
      'keyEncipherment and digitalSignature',
      [KeyUsage.keyEncipherment, KeyUsage.digitalSignature],
      `keyUsage also allows keyEncipherment: ${ONLY}`,
    ],
    [
      'nonRepudiation, dataEncipherment and cRLSign',
      [KeyUsage.contentCommitment, KeyUsage.dataEncipherment, KeyUsage.cRLSign],
      `keyUsage also allows dataEncipherment, cRLSign: ${ONLY}`,
    ],
    // Bits RFC 5280 does not name: openssl reads two octets (bits 0 to 15), Go nine bits.
    [
      'digitalSignature and bit 9',
      [KeyUsage.digitalSignature, 9],
      `keyUsage also allows bit 9: ${ONLY}`,
    ],
    ['digitalSignature and bit 16', [KeyUsage.digitalSignature, 16], null],
    ['keyEncipherment only', [KeyUsage.keyEncipherment], NEITHER],
    ['keyAgreement only', [KeyUsage.keyAgreement], NEITHER],
  ])('keyUsage %s', async (_name, keyUsage, refused) => {
    const pki = await makePki({ leaf: { keyUsage } });
    const token = await issueToken(pki, { artifact });
    // openssl ts -verify, the oracle: it refuses exactly the same tokens.
    expect(await opensslVerdict(pki, token)).toMatch(
      refused === null ? /Verification: OK/ : /unsuitable certificate purpose/,
    );
    const result = verifyTimestampResponse(token, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    });
    if (refused === null) {
      await expect(result).resolves.toBeDefined();
      return;
    }
    const error = await refusal(result);
    expect(error.code).toBe('tsa-certificate');
    expect(error.message).toBe(`failed to verify TSA certificate: ${refused}`);
  });
});

describe('a TSA certificate with an extension twice (RFC 5280 section 4.2)', () => {
  /** A token whose embedded leaf has `extension` (its OID) twice, signed as the leaf was read. */
  async function tokenWithLeafExtensionTwice(pki: Pki, extension: string): Promise<Buffer> {
    const leaf = await withExtensionTwice(pki.leaf.der, extension, (tbs) =>
      pki.intermediate.signer.sign(tbs),
    );
    // The server's parser refuses it too (parseCertificate): the encoder is given it as read.
    const encoder = new TokenEncoder({
      signer: pki.leaf.signer,
      chain: [{ ...parseCertificate(pki.leaf.der), der: leaf }],
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: false,
    });
    return encoder.encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('01', 'hex'),
      genTime: encoder.genTimeAt(Date.now()),
    });
  }
  const verify = (pki: Pki, token: Buffer) =>
    verifyTimestampResponse(token, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    });

  it("is refused, as openssl refuses it (and Go's parser)", async () => {
    const pki = await makePki();
    const token = await tokenWithLeafExtensionTwice(pki, OID.extKeyUsage);
    expect(await opensslVerdict(pki, token)).toMatch(
      /ossl_x509v3_cache_extensions:invalid certificate/,
    );
    const error = await refusal(verify(pki, token));
    expect(error.message).toContain(
      `certificate has extension ${OID.extKeyUsage} twice (RFC 5280 section 4.2)`,
    );
    // The same leaf with it once is accepted: the repetition alone is refused.
    await expect(verify(pki, await issueToken(pki, { artifact }))).resolves.toBeDefined();
  });

  it('is refused for an extension openssl does not read: two privateKeyUsagePeriods', async () => {
    // One reader would take the first, another the last: openssl ts -verify takes the token.
    const pki = await makePki({
      leaf: { privateKeyUsagePeriod: { notAfter: new Date(Date.now() + 30 * DAY) } },
    });
    const token = await tokenWithLeafExtensionTwice(pki, OID.privateKeyUsagePeriod);
    const error = await refusal(verify(pki, token));
    expect(error.message).toContain(
      `certificate has extension ${OID.privateKeyUsagePeriod} twice (RFC 5280 section 4.2)`,
    );
  });
});
