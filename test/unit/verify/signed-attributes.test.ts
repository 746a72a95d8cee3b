import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  contextTag,
  integer,
  octetString,
  oid,
  sequence,
  set,
  time,
  tlv,
} from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import {
  VerificationError,
  parseTimestampResponse,
  verifyTimestampResponse,
} from '../../../src/index.js';
import { verifySignerInfo } from '../../../src/verify/cms-signer.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { encodeName } from '../../../src/x509/name.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import {
  FORGED_AT,
  forgeToken,
  isAttribute,
  replaceAttribute,
  type Forgery,
} from './forged-token.js';

const artifact = Buffer.from('signed attributes\n');
const DAY = 86_400_000;

/**
 * Signed attributes a token's key holder chose (any self-made certificate signs one): whatever
 * they hold, verification ends in a VerificationError, never in a PKI.js Error.
 */
describe('signed attributes the signer made', () => {
  let pki: Pki;
  const trust = () => ({ roots: [pki.root.der], intermediates: [pki.intermediate.der] });

  beforeAll(async () => {
    pki = await makePki({}, FORGED_AT);
  });

  /** The refusal of `forgery` by verifyTimestampResponse, and by verifySignerInfo (inspect's check). */
  async function refusals(forgery: Forgery): Promise<{ verify: unknown; signerInfo: unknown }> {
    const tsr = await forgeToken(pki, artifact, forgery);
    const caught = async (run: () => unknown) => {
      try {
        await run();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const token = parseTimestampResponse(tsr);
    return {
      verify: await caught(() => verifyTimestampResponse(tsr, artifact, trust())),
      signerInfo: await caught(() => verifySignerInfo(token, token.timestamp.certificates)),
    };
  }

  const essCertIdV2 = (...fields: Buffer[]) =>
    sequence(oid(OID.signingCertificateV2), set(sequence(sequence(sequence(...fields)))));
  const leafHash = () => octetString(createHash('sha256').update(pki.leaf.der).digest());

  it('the honest token verifies', async () => {
    const tsr = await forgeToken(pki, artifact);
    await expect(verifyTimestampResponse(tsr, artifact, trust())).resolves.toBeDefined();
  });

  it.each([
    [
      'an issuerSerial whose GeneralNames holds an INTEGER',
      () => essCertIdV2(leafHash(), sequence(sequence(integer(5)), integer(1))),
    ],
    [
      'an issuerSerial whose directoryName [4] holds no Name',
      () => essCertIdV2(leafHash(), sequence(sequence(tlv(0xa4, integer(5))), integer(1))),
    ],
  ])('%s is a malformed signingCertificateV2', async (_name, attribute) => {
    const { verify, signerInfo } = await refusals({
      attributes: replaceAttribute(OID.signingCertificateV2, attribute()),
    });
    for (const error of [verify, signerInfo]) {
      expect(error).toBeInstanceOf(VerificationError);
      expect(error).toMatchObject({
        code: 'signature',
        message: expect.stringMatching(
          /^error while verifying signature: the signingCertificateV2 attribute is malformed: /,
        ),
      });
    }
  });

  /** The refusal of `forgery`, the same from verifyTimestampResponse and verifySignerInfo. */
  async function refusal(forgery: Forgery): Promise<string> {
    const { verify, signerInfo } = await refusals(forgery);
    expect(verify).toBeInstanceOf(VerificationError);
    expect(signerInfo).toEqual(verify);
    return (verify as Error).message;
  }
  const withCopyOf =
    (dotted: string) =>
    (attributes: Buffer[]): Buffer[] =>
      [...attributes, ...attributes.filter((attribute) => isAttribute(attribute, dotted))].sort(
        Buffer.compare,
      );

  it.each([
    ['contentType', OID.contentType],
    ['messageDigest', OID.messageDigest],
    ['signingTime', OID.signingTime],
    ['signingCertificateV2', OID.signingCertificateV2],
  ])('a repeated %s attribute is refused, not read as its first', async (name, dotted) => {
    expect(await refusal({ attributes: withCopyOf(dotted) })).toBe(
      `error while verifying signature: the ${name} attribute appears more than once`,
    );
  });

  it('a repeated signingCertificate (v1) is refused beside a signingCertificateV2', async () => {
    const v1 = sequence(
      oid(OID.signingCertificate),
      set(
        sequence(sequence(sequence(octetString(createHash('sha1').update(pki.leaf.der).digest())))),
      ),
    );
    expect(await refusal({ attributes: (a) => [...a, v1, v1].sort(Buffer.compare) })).toBe(
      'error while verifying signature: the signingCertificate attribute appears more than once',
    );
    await expect(
      verifyTimestampResponse(
        await forgeToken(pki, artifact, { attributes: (a) => [...a, v1].sort(Buffer.compare) }),
        artifact,
        trust(),
      ),
    ).resolves.toBeDefined();
  });

  it('a signingCertificateV2 with two values is refused', async () => {
    const ess = sequence(sequence(sequence(leafHash())));
    expect(
      await refusal({
        attributes: replaceAttribute(
          OID.signingCertificateV2,
          sequence(
            oid(OID.signingCertificateV2),
            set(...[ess, sequence(ess)].sort(Buffer.compare)),
          ),
        ),
      }),
    ).toBe(
      'error while verifying signature: the signingCertificateV2 attribute must have exactly one value',
    );
  });

  it('a signingTime that is not a time is refused, not skipped', async () => {
    expect(
      await refusal({
        attributes: replaceAttribute(
          OID.signingTime,
          sequence(oid(OID.signingTime), set(integer(5))),
        ),
      }),
    ).toBe(
      'error while verifying signature: the signingTime attribute is not a UTCTime or GeneralizedTime',
    );
  });

  /** makePki's leaf (FORGED_AT): valid from 30 days before to 365 days after. */
  it.each([
    ['after notAfter', new Date(FORGED_AT.getTime() + 366 * DAY)],
    ['before notBefore', new Date(FORGED_AT.getTime() - 31 * DAY)],
  ])('a signingTime %s of the signer certificate is refused', async (_name, at) => {
    expect(
      await refusal({
        attributes: replaceAttribute(
          OID.signingTime,
          sequence(oid(OID.signingTime), set(time(at))),
        ),
      }),
    ).toBe(
      `error while verifying signature: the signing time ${at.toISOString()} is outside the signer certificate's validity`,
    );
  });

  /** A signingCertificateV2 with the leaf's hash and issuerSerial { [4] `issuer`, `serial` }. */
  const withIssuerSerial = (issuer: Buffer, serial: Buffer) =>
    replaceAttribute(
      OID.signingCertificateV2,
      essCertIdV2(leafHash(), sequence(sequence(tlv(contextTag(4, true), issuer)), serial)),
    );

  it('an issuerSerial naming the signer by its own issuer and serial verifies', async () => {
    const leaf = parseCertificate(pki.leaf.der);
    const tsr = await forgeToken(pki, artifact, {
      attributes: withIssuerSerial(leaf.issuer, leaf.serialNumber),
    });
    await expect(verifyTimestampResponse(tsr, artifact, trust())).resolves.toBeDefined();
  });

  it.each([
    [
      'the right issuer but another serial',
      () => {
        const leaf = parseCertificate(pki.leaf.der);
        return withIssuerSerial(leaf.issuer, integer(BigInt(`0x${leaf.x509.serialNumber}`) + 1n));
      },
    ],
    [
      'another issuer (the root) but the right serial',
      () =>
        withIssuerSerial(encodeName(pki.root.subject), parseCertificate(pki.leaf.der).serialNumber),
    ],
  ])('an issuerSerial with %s is refused', async (_name, attributes) => {
    expect(await refusal({ attributes: attributes() })).toBe(
      "error while verifying signature: the signingCertificateV2 attribute's issuerSerial does not match the signer certificate",
    );
  });
});
