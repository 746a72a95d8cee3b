import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { oid, set } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { VerificationError, verifyTimestampResponse } from '../../../src/index.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';

const artifact = Buffer.from('tamper with me');
const NONCE = 0x1122334455667788n;

/** Replaces the single occurrence of `from` in `data` by `to` (same length, so DER stays valid). */
function replaceOnce(data: Buffer, from: Uint8Array, to: Uint8Array): Buffer {
  const at = data.indexOf(from);
  expect(at, 'pattern present').toBeGreaterThanOrEqual(0);
  expect(data.indexOf(from, at + 1), 'pattern unique').toBe(-1);
  expect(to.length).toBe(from.length);
  const copy = Buffer.from(data);
  Buffer.from(to).copy(copy, at);
  return copy;
}

/** The same bytes with the last octet changed. */
const flipLast = (bytes: Uint8Array) => {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01;
  return copy;
};

interface Forgery {
  tstInfo?: (der: Buffer) => Buffer;
  attributes?: (attributes: Buffer[]) => Buffer[];
  signature?: (signature: Uint8Array) => Uint8Array;
  response?: (der: Buffer) => Buffer;
  /** Sign what was altered (a TSA that issues a wrong token) instead of altering after signing. */
  resign: boolean;
}

describe('single-field tampering', () => {
  let pki: Pki;
  const genTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const verify = (token: Buffer) =>
    verifyTimestampResponse(token, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
      nonce: NONCE,
      oid: OID.sigstoreTsaPolicy,
    });

  beforeAll(async () => {
    pki = await makePki();
  });

  async function forge(forgery: Forgery): Promise<Buffer> {
    const encoder = encoderFor(pki.leaf.signer, [pki.leaf.der], false);
    const fields = {
      request: acceptedRequest({ artifact, nonce: NONCE }),
      serialNumber: Buffer.from('0a0b0c0d0e0f', 'hex'),
      genTime,
    };
    const original = encoder.encodeTstInfo(fields);
    const tstInfo = forgery.tstInfo ? forgery.tstInfo(original) : original;
    const signedAttributes = encoder.encodeSignedAttributes(
      forgery.resign ? tstInfo : original,
      genTime,
    );
    const attributes = forgery.attributes ? forgery.attributes(signedAttributes) : signedAttributes;
    let signature = await pki.leaf.signer.sign(
      set(...(forgery.resign ? attributes : signedAttributes)),
    );
    if (forgery.signature) signature = forgery.signature(signature);
    const response = encoder.assemble(tstInfo, attributes, signature, true);
    return forgery.response ? forgery.response(response) : response;
  }

  async function message(forgery: Forgery): Promise<string> {
    try {
      await verify(await forge(forgery));
    } catch (error) {
      expect(error).toBeInstanceOf(VerificationError);
      return (error as Error).message;
    }
    throw new Error('tampered token verified');
  }

  const digest = createHash('sha256').update(artifact).digest();
  const nonceBytes = Buffer.from('1122334455667788', 'hex');
  const policy = oid(OID.sigstoreTsaPolicy);
  const otherPolicy = oid('1.3.6.1.4.1.57264.3');
  const tsaCommonName = Buffer.from('Test TSA Timestamping');
  const tamperedName = Buffer.from('Test TSA Timestampinh');
  const essHash = (pkiNow: Pki) => createHash('sha256').update(pkiNow.leaf.der).digest();
  const ALTERED =
    'error while verifying signature: the messageDigest attribute does not match the TSTInfo: the token content was altered';

  it('the untampered token verifies', async () => {
    await expect(verify(await forge({ resign: false }))).resolves.toBeDefined();
  });

  describe('altered after signing: the signature check names the alteration', () => {
    it.each([
      ['imprint', (t: Buffer) => replaceOnce(t, digest, flipLast(digest))],
      ['nonce', (t: Buffer) => replaceOnce(t, nonceBytes, flipLast(nonceBytes))],
      ['policy', (t: Buffer) => replaceOnce(t, policy, otherPolicy)],
      [
        'serial',
        (t: Buffer) =>
          replaceOnce(t, Buffer.from('0a0b0c0d0e0f', 'hex'), Buffer.from('0a0b0c0d0e10', 'hex')),
      ],
      ['TSA name', (t: Buffer) => replaceOnce(t, tsaCommonName, tamperedName)],
    ])('%s', async (_field, tstInfo) => {
      expect(await message({ tstInfo, resign: false })).toBe(ALTERED);
    });

    it('signature', async () => {
      expect(await message({ signature: flipLast, resign: false })).toBe(
        "error while verifying signature: the signature does not verify with the signer certificate's key",
      );
    });

    it('ESS certificate hash', async () => {
      const hash = essHash(pki);
      expect(
        await message({
          attributes: (a) =>
            a.map((x) => (x.includes(hash) ? replaceOnce(x, hash, flipLast(hash)) : x)),
          resign: false,
        }),
      ).toBe(
        "error while verifying signature: the signature does not verify with the signer certificate's key",
      );
    });

    it('status', async () => {
      const granted = Buffer.from('3003020100', 'hex');
      expect(
        await message({
          response: (r) => replaceOnce(r, granted, Buffer.from('3003020101', 'hex')),
          resign: false,
        }),
      ).toBe('the response status is grantedWithMods: only granted tokens are accepted');
    });
  });

  describe('signed wrong by the key holder: each check names its field', () => {
    it('imprint', async () => {
      expect(
        await message({ tstInfo: (t) => replaceOnce(t, digest, flipLast(digest)), resign: true }),
      ).toBe("hashed messages don't match");
    });
    it('nonce', async () => {
      expect(
        await message({
          tstInfo: (t) => replaceOnce(t, nonceBytes, flipLast(nonceBytes)),
          resign: true,
        }),
      ).toBe(`incoming nonce ${NONCE} does not match TSR nonce ${NONCE ^ 1n}`);
    });
    it('policy', async () => {
      expect(
        await message({ tstInfo: (t) => replaceOnce(t, policy, otherPolicy), resign: true }),
      ).toBe(
        `OID content does not match: TSR policy 1.3.6.1.4.1.57264.3, expected ${OID.sigstoreTsaPolicy}`,
      );
    });
    it('TSA name', async () => {
      expect(
        await message({
          tstInfo: (t) => replaceOnce(t, tsaCommonName, tamperedName),
          resign: true,
        }),
      ).toBe(
        'the TSTInfo tsa name "O=test, CN=Test TSA Timestampinh" is neither the signer certificate subject "O=test, CN=Test TSA Timestamping" nor one of its subjectAltNames',
      );
    });
    it('TSTInfo version', async () => {
      expect(await message({ tstInfo: patchVersion, resign: true })).toBe(
        'timestamp response is not valid: TSTInfo version is 2, expected 1',
      );
    });
    it('ESS certificate hash', async () => {
      const hash = essHash(pki);
      expect(
        await message({
          attributes: (a) =>
            a.map((x) => (x.includes(hash) ? replaceOnce(x, hash, flipLast(hash)) : x)),
          resign: true,
        }),
      ).toBe(
        "error while verifying signature: the signingCertificateV2 attribute's certificate hash does not match the signer certificate",
      );
    });
    it('contentType attribute', async () => {
      const tstInfoOid = oid(OID.tstInfo);
      expect(
        await message({
          attributes: (a) =>
            a.map((x) =>
              x.includes(tstInfoOid) ? replaceOnce(x, tstInfoOid, flipLast(tstInfoOid)) : x,
            ),
          resign: true,
        }),
      ).toBe(
        'error while verifying signature: the contentType attribute is 1.2.840.113549.1.9.16.1.5, not id-ct-TSTInfo',
      );
    });
  });
});

/** TSTInfo ::= SEQUENCE { version INTEGER ... }: the version is the first element after the header. */
function patchVersion(tstInfo: Buffer): Buffer {
  const copy = Buffer.from(tstInfo);
  const headerLength = (copy[1] as number) & 0x80 ? 2 + ((copy[1] as number) & 0x7f) : 2;
  expect(copy.subarray(headerLength, headerLength + 3).toString('hex')).toBe('020101');
  copy[headerLength + 2] = 2;
  return copy;
}
