import { beforeAll, describe, expect, it } from 'vitest';
import { set } from '../../../src/asn1/der.js';
import {
  VerificationError,
  parseTimestampResponse,
  verifyTimestampResponse,
} from '../../../src/index.js';
import { derProblem } from '../../../src/verify/der.js';
import { subjectKeyIdentifier } from '../../../src/x509/certificate-builder.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';
import {
  encodeTlv as encode,
  parseTlvs as parse,
  type TlvNode as Node,
} from '../../helpers/tlv-tree.js';

const artifact = Buffer.from('one token, one encoding\n');

const root = (bytes: Buffer) => parse(bytes)[0] as Node;
const child = (node: Node, ...path: number[]): Node =>
  path.reduce((at, index) => at.children![index] as Node, node);
/** TimeStampResp > token ContentInfo > [0] > SignedData */
const signedDataOf = (response: Node) => child(response, 1, 1, 0);
const NULL: Node = { tag: 0x05, content: Buffer.alloc(0) };

describe('only DER responses, tokens and TSTInfos verify (F4)', () => {
  let pki: Pki;
  let good: Buffer;
  const verify = (tsr: Buffer) =>
    verifyTimestampResponse(tsr, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    });

  async function message(tsr: Buffer): Promise<string> {
    try {
      await verify(tsr);
    } catch (error) {
      expect(error).toBeInstanceOf(VerificationError);
      expect((error as VerificationError).code).toBe('malformed');
      return (error as Error).message;
    }
    throw new Error('verification unexpectedly succeeded');
  }

  /** A token over a TSTInfo changed by `change`, signed after the change (a TSA that encodes BER). */
  async function resigned(change: (tstInfo: Node) => void): Promise<Buffer> {
    const encoder = encoderFor(pki.leaf.signer, [pki.leaf.der], false);
    const genTime = encoder.genTimeAt(Date.now());
    const fields = {
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('0a', 'hex'),
      genTime,
    };
    const tstInfo = root(encoder.encodeTstInfo(fields));
    change(tstInfo);
    const tstInfoDer = encode(tstInfo);
    const attributes = encoder.encodeSignedAttributes(tstInfoDer, genTime);
    const signature = await pki.leaf.signer.sign(set(...attributes));
    return encoder.assemble(tstInfoDer, attributes, signature, true);
  }

  beforeAll(async () => {
    pki = await makePki();
    good = await resigned(() => undefined);
  });

  it('the encoder and this re-encoder produce DER that verifies', async () => {
    await expect(verify(good)).resolves.toBeDefined();
    expect(encode(root(good)).equals(good)).toBe(true);
  });

  it('an embedded certificate that is a SEQUENCE but no certificate is named so, not by OpenSSL’s PEM fallback', () => {
    const response = root(good);
    // SignedData: version, digestAlgorithms, encapContentInfo, certificates [0], signerInfos.
    const certificates = child(signedDataOf(response), 3);
    certificates.children!.push({
      tag: 0x30,
      children: [{ tag: 0x02, content: Buffer.from([0]) }],
    });
    expect(() => parseTimestampResponse(encode(response))).toThrow(
      /embedded certificate: not an X\.509 certificate$/,
    );
  });

  it('a non-minimal length on the TimeStampResp is refused', async () => {
    const response = root(good);
    response.lengthPadding = 1;
    expect(await message(encode(response))).toBe(
      'error parsing response into Timestamp: the response is not DER: non-minimal length at offset 0',
    );
  });

  it('a padded status INTEGER is refused', async () => {
    const response = root(good);
    const status = child(response, 0, 0);
    status.content = Buffer.concat([Buffer.from([0]), status.content!]);
    expect(await message(encode(response))).toMatch(/not DER: non-minimal INTEGER/);
  });

  it('a non-minimal length inside the token (outside the signature) is refused', async () => {
    const response = root(good);
    signedDataOf(response).lengthPadding = 2;
    expect(await message(encode(response))).toMatch(/the token is not DER: non-minimal length/);
  });

  it('an extra element in the TimeStampResp or the SignedData is refused', async () => {
    const response = root(good);
    response.children!.push(NULL);
    expect(await message(encode(response))).toBe(
      'timestamp response is not valid: the TimeStampResp has 1 element(s) its schema does not have',
    );
    const other = root(good);
    signedDataOf(other).children!.push({ tag: 0x31, children: [] });
    expect(await message(encode(other))).toMatch(/the SignedData has 1 element\(s\)/);
  });

  it('a TSTInfo with a padded serialNumber or an extra element is refused, even signed so', async () => {
    const padded = await resigned((tstInfo) => {
      const serial = child(tstInfo, 3);
      serial.content = Buffer.concat([Buffer.from([0]), serial.content!]);
    });
    expect(await message(padded)).toMatch(/the TSTInfo is not DER: non-minimal INTEGER/);
    const extra = await resigned((tstInfo) => tstInfo.children!.push(NULL));
    expect(await message(extra)).toMatch(/the TSTInfo has 1 element\(s\) its schema does not have/);
  });

  it('a padded Accuracy millis or micros is refused, even signed so: its implicit tag hides that it is an INTEGER', async () => {
    const withAccuracy = (millis: number[], micros: number[]) =>
      resigned((tstInfo) => {
        const accuracy = child(tstInfo, 5);
        expect(accuracy.tag).toBe(0x30);
        accuracy.children = [
          { tag: 0x80, content: Buffer.from(millis) },
          { tag: 0x81, content: Buffer.from(micros) },
        ];
      });
    const minimal = await verify(await withAccuracy([5], [0x00, 0x80]));
    expect(minimal.accuracy).toEqual({ seconds: 0, millis: 5, micros: 128 });
    expect(await message(await withAccuracy([0x00, 0x05], [7]))).toBe(
      "timestamp response is not valid: the Accuracy's millis is not a DER INTEGER: non-minimal INTEGER",
    );
    expect(await message(await withAccuracy([5], []))).toBe(
      "timestamp response is not valid: the Accuracy's micros is not a DER INTEGER: empty INTEGER",
    );
  });

  it('an Accuracy out of its range is refused, even signed so: millis and micros are 1..999 (RFC 3161), seconds not negative', async () => {
    const withAccuracy = (...children: Node[]) =>
      resigned((tstInfo) => {
        child(tstInfo, 5).children = children;
      });
    const seconds = (content: number[]): Node => ({ tag: 0x02, content: Buffer.from(content) });
    const millis = (content: number[]): Node => ({ tag: 0x80, content: Buffer.from(content) });
    const micros = (content: number[]): Node => ({ tag: 0x81, content: Buffer.from(content) });
    const bounds = await verify(
      await withAccuracy(seconds([1]), millis([1]), micros([0x03, 0xe7])),
    );
    expect(bounds.accuracy).toEqual({ seconds: 1, millis: 1, micros: 999 });
    expect(await message(await withAccuracy(seconds([1]), millis([0])))).toBe(
      "timestamp response is not valid: the Accuracy's millis (0) is outside 1..999 (RFC 3161 section 2.4.2)",
    );
    expect(await message(await withAccuracy(millis([0x03, 0xe8])))).toBe(
      "timestamp response is not valid: the Accuracy's millis (1000) is outside 1..999 (RFC 3161 section 2.4.2)",
    );
    expect(await message(await withAccuracy(micros([0xff])))).toBe(
      "timestamp response is not valid: the Accuracy's micros (-1) is outside 1..999 (RFC 3161 section 2.4.2)",
    );
    expect(await message(await withAccuracy(seconds([0xfb])))).toBe(
      "timestamp response is not valid: the Accuracy's seconds (-5) is out of range",
    );
  });

  it('a genTime of month 13 is refused, even signed so (asn1js read it as January of the next year)', async () => {
    const month13 = await resigned((tstInfo) => {
      const genTime = child(tstInfo, 4);
      expect(genTime.tag).toBe(0x18);
      genTime.content = Buffer.from('20261301000000Z', 'latin1');
    });
    expect(await message(month13)).toMatch(
      /^error parsing response into Timestamp: the TSTInfo is not DER: GeneralizedTime 20261301000000Z has month 13 at offset \d+$/,
    );
  });

  describe('the versions outside the signature are the ones RFC 5652 sets', () => {
    /** SignedData > signerInfos (its last element) > the one SignerInfo */
    const signerInfoOf = (response: Node) => {
      const signedData = signedDataOf(response);
      return child(signedData, signedData.children!.length - 1, 0);
    };
    const version = (node: Node, value: number) => {
      const field = child(node, 0);
      expect(field.tag).toBe(0x02);
      field.content = Buffer.from([value]);
    };
    /** `good` with its SignedData and SignerInfo versions set, and `change` applied. */
    const variant = (signedData: number, signerInfo: number, change?: (response: Node) => void) => {
      const response = root(good);
      version(signedDataOf(response), signedData);
      version(signerInfoOf(response), signerInfo);
      change?.(response);
      return encode(response);
    };

    it("SignedData 3 and SignerInfo 1 verify, and SignedData 1 too (what Go's TSA writes)", async () => {
      expect(variant(3, 1).equals(good)).toBe(true);
      await expect(verify(variant(1, 1))).resolves.toBeDefined();
    });

    it.each([0, 2, 4, 5, 99])('SignedData version %s is refused', async (value) => {
      expect(await message(variant(value, 1))).toBe(
        `timestamp response is not valid: the SignedData version is ${value}, not 3 or 1`,
      );
    });

    it.each([0, 2, 3, 99])(
      'SignerInfo version %s with an issuerAndSerialNumber sid is refused',
      async (value) => {
        expect(await message(variant(3, value))).toBe(
          `timestamp response is not valid: the SignerInfo version is ${value}, not 1`,
        );
      },
    );

    it('a subjectKeyIdentifier sid goes with SignerInfo version 3, not 1', async () => {
      const bySubjectKeyIdentifier = (response: Node) => {
        const sid = child(signerInfoOf(response), 1);
        expect(sid.tag).toBe(0x30);
        Object.assign(sid, {
          tag: 0x80,
          content: subjectKeyIdentifier(pki.leaf.signer.publicKey),
          children: undefined,
        });
      };
      await expect(verify(variant(3, 3, bySubjectKeyIdentifier))).resolves.toBeDefined();
      expect(await message(variant(3, 1, bySubjectKeyIdentifier))).toBe(
        'timestamp response is not valid: the SignerInfo version is 1, not 3',
      );
    });

    it('a CRL of an other format ([1] OtherRevocationInfoFormat) asks for SignedData version 5', async () => {
      const withOtherCrl = (response: Node) => {
        const signedData = signedDataOf(response);
        const other: Node = { tag: 0xa1, children: [{ tag: 0x06, content: Buffer.from([0x2a]) }] };
        signedData.children!.splice(signedData.children!.length - 1, 0, {
          tag: 0xa1,
          children: [other],
        });
      };
      expect(await message(variant(3, 1, withOtherCrl))).toBe(
        'timestamp response is not valid: the SignedData version is 3, not 5',
      );
      expect(await message(variant(1, 1, withOtherCrl))).toBe(
        'timestamp response is not valid: the SignedData version is 1, not 5',
      );
    });
  });

  it('parseTimestampResponse refuses BER too: tokenDer is the one encoding', () => {
    const response = root(good);
    child(response, 1).lengthPadding = 1;
    expect(() => parseTimestampResponse(encode(response))).toThrow(/not DER/);
    expect(
      parseTimestampResponse(good).timestamp.tokenDer.equals(encode(child(root(good), 1))),
    ).toBe(true);
  });
});

/** Go's encoding/asn1 parses times with time.Parse and refuses what it refuses. */
describe('GeneralizedTime and UTCTime fields in range', () => {
  const time = (tag: 0x17 | 0x18, text: string) =>
    Buffer.concat([Buffer.from([tag, text.length]), Buffer.from(text, 'latin1')]);
  const generalized = (text: string) => derProblem(time(0x18, text));
  const utc = (text: string) => derProblem(time(0x17, text));

  it.each([
    '20240229000000Z', // 2024 is a leap year
    '20000229000000Z', // so is 2000 (divisible by 400)
    '20241231235959Z',
    '00010101000000Z',
    '20240131235959.999Z',
  ])('GeneralizedTime %s is accepted', (text) => {
    expect(generalized(text)).toBeUndefined();
  });

  it.each([
    ['20241301000000Z', 'month 13'],
    ['20240001000000Z', 'month 0'],
    ['20240100000000Z', 'day 0 of month 1'],
    ['20240230000000Z', 'day 30 of month 2'],
    ['20230229000000Z', 'day 29 of month 2'], // not a leap year
    ['21000229000000Z', 'day 29 of month 2'], // divisible by 100, not by 400
    ['20240431000000Z', 'day 31 of month 4'],
    ['20240101240000Z', 'hour 24'],
    ['20240101250000Z', 'hour 25'],
    ['20240101006000Z', 'minute 60'],
    ['20240101000060Z', 'second 60'], // a leap second: Go's time.Parse refuses it too
    ['20240101000060.5Z', 'second 60'],
  ])('GeneralizedTime %s is refused: %s', (text, field) => {
    expect(generalized(text)).toBe(`GeneralizedTime ${text} has ${field} at offset 0`);
  });

  it.each(['240229000000Z', '000229000000Z', '991231235959Z', '500101000000Z'])(
    'UTCTime %s is accepted',
    (text) => {
      expect(utc(text)).toBeUndefined();
    },
  );

  it.each([
    ['231301000000Z', 'month 13'],
    ['230229000000Z', 'day 29 of month 2'],
    ['490229000000Z', 'day 29 of month 2'], // 2049
    ['240101240000Z', 'hour 24'],
    ['240101000060Z', 'second 60'],
  ])('UTCTime %s is refused: %s', (text, field) => {
    expect(utc(text)).toBe(`UTCTime ${text} has ${field} at offset 0`);
  });
});
