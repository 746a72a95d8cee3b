import { beforeAll, describe, expect, it } from 'vitest';
import { set } from '../../../src/asn1/der.js';
import {
  VerificationError,
  parseTimestampResponse,
  verifyTimestampResponse,
} from '../../../src/index.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';

const artifact = Buffer.from('one token, one encoding\n');

/** A TLV tree (primitive: content; constructed: children), re-encodable with BER liberties. */
interface Node {
  tag: number;
  content?: Buffer;
  children?: Node[];
  /** Extra leading zero octets in a long-form length (BER allows them, DER does not). */
  lengthPadding?: number;
}

function parse(bytes: Buffer): Node[] {
  const nodes: Node[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset++] as number;
    let length = bytes[offset++] as number;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = bytes.readUIntBE(offset, count);
      offset += count;
    }
    const content = bytes.subarray(offset, offset + length);
    offset += length;
    nodes.push(tag & 0x20 ? { tag, children: parse(content) } : { tag, content });
  }
  return nodes;
}

function encode(node: Node): Buffer {
  const content = node.children ? Buffer.concat(node.children.map(encode)) : node.content!;
  const n = content.length;
  let length: Buffer;
  if (n < 0x80 && !node.lengthPadding) length = Buffer.from([n]);
  else {
    const digits = Buffer.from(
      n.toString(16).padStart(2 * Math.ceil(n.toString(16).length / 2), '0'),
      'hex',
    );
    const octets = Buffer.concat([Buffer.alloc(node.lengthPadding ?? 0), digits]);
    length = Buffer.concat([Buffer.from([0x80 | octets.length]), octets]);
  }
  return Buffer.concat([Buffer.from([node.tag]), length, content]);
}

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

  it('parseTimestampResponse refuses BER too: tokenDer is the one encoding', () => {
    const response = root(good);
    child(response, 1).lengthPadding = 1;
    expect(() => parseTimestampResponse(encode(response))).toThrow(/not DER/);
    expect(
      parseTimestampResponse(good).timestamp.tokenDer.equals(encode(child(root(good), 1))),
    ).toBe(true);
  });
});
