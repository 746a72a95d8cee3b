import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { octetString, oid, sequence, set } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { verificationRefusal as refusal } from '../../helpers/verification.js';
import { verifySignerInfo } from '../../../src/verify/cms-signer.js';
import { readTrustedRoot, verifyWithTrustedRoot } from '../../../src/verify/trusted-root.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { FORGED_AT, forgeToken, replaceAttribute } from './forged-token.js';

// The real verifySignerInfo, counted: each authority's leaf is checked once, not again after.
vi.mock('../../../src/verify/cms-signer.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/verify/cms-signer.js')>();
  return { ...original, verifySignerInfo: vi.fn(original.verifySignerInfo) };
});

const artifact = Buffer.from('trusted root\n');
const DAY = 86_400_000;

/** FORGED_AT (the tokens' genTime) moved by `days`, as RFC 3339. */
const at = (days: number) => new Date(FORGED_AT.getTime() + days * DAY).toISOString();

/** A trusted_root.json with one timestamp authority per PKI (chain leaf first, root last). */
function trustedRoot(...pkis: Pki[]) {
  return trustedRootValidFor({ start: at(-30), end: at(30) }, ...pkis);
}

/** The same, its authorities valid for `validFor` (an absent bound is open). */
function trustedRootValidFor(validFor: { start?: string; end?: string }, ...pkis: Pki[]) {
  return readTrustedRoot(
    JSON.stringify({
      timestampAuthorities: pkis.map((pki) => ({
        certChain: {
          certificates: [pki.leaf, pki.intermediate, pki.root].map((party) => ({
            rawBytes: party.der.toString('base64'),
          })),
        },
        validFor,
      })),
    }),
  );
}

describe('verifyWithTrustedRoot', () => {
  let tsa: Pki;
  let other: Pki;

  beforeAll(async () => {
    [tsa, other] = await Promise.all([makePki({}, FORGED_AT), makePki({}, FORGED_AT)]);
  });

  it("verifies a token of one of the root's authorities, checking each leaf's signature once", async () => {
    const tsr = await forgeToken(tsa, artifact);
    vi.mocked(verifySignerInfo).mockClear();
    const timestamp = await verifyWithTrustedRoot(tsr, artifact, trustedRoot(other, tsa));
    expect(timestamp.genTime).toEqual(FORGED_AT);
    expect(vi.mocked(verifySignerInfo)).toHaveBeenCalledTimes(2);
  });

  it('names no authority when the token designates none of their leaves', async () => {
    const error = await refusal(
      verifyWithTrustedRoot(await forgeToken(tsa, artifact), artifact, trustedRoot(other)),
    );
    expect(error.code).toBe('no-signer-certificate');
    expect(error.message).toBe('no timestamp authority of the trusted root signed this token');
  });

  it("gives the reason a designated authority's leaf refused the token, not that none signed it", async () => {
    const wrongHash = sequence(
      oid(OID.signingCertificateV2),
      set(sequence(sequence(sequence(octetString(createHash('sha256').update('x').digest()))))),
    );
    const tsr = await forgeToken(tsa, artifact, {
      attributes: replaceAttribute(OID.signingCertificateV2, wrongHash),
    });
    const error = await refusal(verifyWithTrustedRoot(tsr, artifact, trustedRoot(tsa, other)));
    expect(error.code).toBe('signature');
    expect(error.message).toBe(
      "error while verifying signature: the signingCertificateV2 attribute's certificate hash does not match the signer certificate",
    );
  });

  it("refuses a token from before its authority's validFor.start, the end being open", async () => {
    const tsr = await forgeToken(tsa, artifact);
    // The start is inclusive: an authority starting at genTime itself covers the token.
    await expect(
      verifyWithTrustedRoot(tsr, artifact, trustedRootValidFor({ start: at(0) }, tsa)),
    ).resolves.toBeDefined();
    const error = await refusal(
      verifyWithTrustedRoot(tsr, artifact, trustedRootValidFor({ start: at(1) }, tsa)),
    );
    expect(error.code).toBe('chain');
    expect(error.message).toBe(
      `the token's genTime ${FORGED_AT.toISOString()} is outside the validity window of its timestamp authority in the trusted root`,
    );
  });
});
