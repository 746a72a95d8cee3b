import * as asn1js from 'asn1js';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { beforeAll, describe, expect, it } from 'vitest';
import { shapeProblem } from '../../../src/verify/der.js';
import { readSignedData, SIGNED_DATA } from '../../../src/verify/signed-data.js';
import { issueToken, makePki, type Pki } from '../../helpers/pki.js';
import {
  encodeTlv as encode,
  parseTlvs as parse,
  type TlvNode as Node,
} from '../../helpers/tlv-tree.js';

/**
 * readSignedData against PKI.js's own `new pkijs.SignedData({ schema })`, which it replaces in the
 * token reader: on the SignedData of real tokens, of tokens edited into every shape the reader
 * lets through (certificates, CRLs and signers present, absent, empty or malformed), and of
 * random edits of them, both must throw the same message or give the same encapContentInfo and
 * SignerInfos. Each reader gets its own decoding: PKI.js writes into the tree it reads.
 */

const clone = (node: Node): Node => structuredClone(node);
/** TimeStampResp > token ContentInfo > [0] > SignedData */
const signedDataOf = (response: Buffer): Node =>
  parse(response)[0]!.children![1]!.children![1]!.children![0]!;

/** What a reader makes of the SignedData DER: its message, or its parts as JSON. */
function outcome(
  der: Buffer,
  read: (value: asn1js.Constructed) => {
    encapContentInfo: pkijs.EncapsulatedContentInfo;
    signerInfos: pkijs.SignerInfo[];
  },
): string {
  const value = asn1js.fromBER(der).result as asn1js.Constructed;
  try {
    const { encapContentInfo, signerInfos } = read(value);
    return JSON.stringify({
      encapContentInfo: encapContentInfo.toJSON(),
      signerInfos: signerInfos.map((signerInfo) => signerInfo.toJSON()),
    });
  } catch (error) {
    return `throws ${error instanceof Error ? error.message : String(error)}`;
  }
}

const byPkijs = (value: asn1js.Constructed) => new pkijs.SignedData({ schema: value });

/** Whether the token reader would hand this DER to readSignedData at all. */
function placed(der: Buffer): boolean {
  try {
    const decoded = asn1js.fromBER(der);
    return (
      decoded.offset === der.length &&
      shapeProblem(decoded.result, SIGNED_DATA, 'SignedData') === undefined
    );
  } catch {
    // asn1js throws on some malformed values (a bad GeneralizedTime): the reader never sees them.
    return false;
  }
}

function expectSame(der: Buffer): string {
  const ours = outcome(der, readSignedData);
  expect(ours).toBe(outcome(der, byPkijs));
  return ours;
}

let pki: Pki;
let withLeaf: Node;
let withChain: Node;
let withoutCertificates: Node;

beforeAll(async () => {
  pki = await makePki();
  const artifact = Buffer.from('signed data');
  withLeaf = signedDataOf(await issueToken(pki, { artifact }));
  withChain = signedDataOf(
    await issueToken(pki, {
      artifact,
      embedded: [pki.leaf.der, pki.intermediate.der, pki.root.der],
    }),
  );
  withoutCertificates = signedDataOf(await issueToken(pki, { artifact, certReq: false }));
});

/** The SignedData with `change` applied to a copy. */
const edited = (base: Node, change: (signedData: Node) => void): Buffer => {
  const copy = clone(base);
  change(copy);
  return encode(copy);
};
const sequence = (...children: Node[]): Node => ({ tag: 0x30, children });
const integer = (value: number): Node => ({ tag: 0x02, content: Buffer.from([value]) });
const oid = (content: number[]): Node => ({ tag: 0x06, content: Buffer.from(content) });
/** The index of the signerInfos SET: the last element. */
const last = (signedData: Node) => signedData.children!.length - 1;
/** Inserts before the signerInfos. */
const insert = (signedData: Node, node: Node) =>
  signedData.children!.splice(last(signedData), 0, node);
const certificatesOf = (signedData: Node) =>
  signedData.children!.find((node) => node.tag === 0xa0)!;

describe('readSignedData, against new pkijs.SignedData', () => {
  it('reads real tokens the same: the leaf embedded, the whole chain, no certificate', () => {
    for (const base of [withLeaf, withChain, withoutCertificates, withLeaf]) {
      expect(expectSame(encode(base))).not.toMatch(/^throws/);
    }
  });

  it.each<[string, (signedData: Node) => void]>([
    ['an empty certificate set', (s) => void (certificatesOf(s).children = [])],
    [
      'a certificate that is no Certificate',
      (s) => void (certificatesOf(s).children = [sequence(integer(1))]),
    ],
    [
      'a certificate then one that is no Certificate',
      (s) => void certificatesOf(s).children!.push(sequence(integer(1), integer(2))),
    ],
    [
      'an extended certificate [0]',
      (s) => void (certificatesOf(s).children = [{ tag: 0xa0, children: [integer(1)] }]),
    ],
    [
      'an attribute certificate v1 [1]',
      (s) => void (certificatesOf(s).children = [{ tag: 0xa1, children: [sequence(integer(1))] }]),
    ],
    [
      'an attribute certificate v2 [2] that is not one',
      (s) => void (certificatesOf(s).children = [{ tag: 0xa2, children: [integer(1)] }]),
    ],
    [
      'an other certificate format [3]',
      (s) =>
        void (certificatesOf(s).children = [{ tag: 0xa3, children: [oid([0x2a]), integer(1)] }]),
    ],
    [
      'a primitive [0] for the certificates',
      (s) =>
        void Object.assign(certificatesOf(s), {
          tag: 0x80,
          children: undefined,
          content: Buffer.from([1]),
        }),
    ],
    [
      'CRLs of an other format',
      (s) =>
        insert(s, { tag: 0xa1, children: [{ tag: 0xa1, children: [oid([0x2a]), integer(1)] }] }),
    ],
    ['a CRL that is no CRL', (s) => insert(s, { tag: 0xa1, children: [sequence(integer(1))] })],
    ['an empty CRL set', (s) => insert(s, { tag: 0xa1, children: [] })],
    ['no signer', (s) => void (s.children![last(s)]!.children = [])],
    [
      'two signers',
      (s) => void s.children![last(s)]!.children!.push(clone(s.children![last(s)]!.children![0]!)),
    ],
    [
      'a signer that is no SignerInfo',
      (s) => void (s.children![last(s)]!.children = [sequence(integer(1))]),
    ],
    ['no digest algorithm', (s) => void (s.children![1]!.children = [])],
    [
      'a digest algorithm that is no AlgorithmIdentifier',
      (s) => void (s.children![1]!.children = [integer(1)]),
    ],
    [
      'an encapContentInfo without its content',
      (s) => void (s.children![2]!.children = [s.children![2]!.children![0]!]),
    ],
    [
      'an encapContentInfo whose type is no OID',
      (s) => void (s.children![2]!.children![0] = integer(1)),
    ],
    ['a SET for the SignedData', (s) => void (s.tag = 0x31)],
    ['a context [5] for the SignedData', (s) => void (s.tag = 0xa5)],
  ])('throws and reads the same with %s', (_, change) => {
    for (const base of [withLeaf, withChain]) {
      const der = edited(base, change);
      expect(placed(der)).toBe(true);
      expectSame(der);
    }
  });

  it('throws and reads the same on random edits of the elements', () => {
    /** Every node of the tree, by its path. */
    const paths = (node: Node, at: number[] = []): number[][] => [
      at,
      ...(node.children ?? []).flatMap((child, i) => paths(child, [...at, i])),
    ];
    const nodeAt = (node: Node, path: number[]) => path.reduce((n, i) => n.children![i]!, node);
    const bases = [withLeaf, withChain, withoutCertificates];
    let placedCount = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: bases.length - 1 }),
        fc.nat(),
        fc.constantFrom('bytes', 'drop', 'duplicate', 'tag'),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (which, pick, edit, bytes) => {
          const copy = clone(bases[which]!);
          const all = paths(copy).filter((path) => path.length > 0);
          const path = all[pick % all.length]!;
          const node = nodeAt(copy, path);
          const parent = nodeAt(copy, path.slice(0, -1));
          const index = path[path.length - 1]!;
          if (edit === 'bytes' && node.content) {
            const content = Buffer.from(node.content);
            bytes.forEach((byte, i) => {
              const at = (i * 7919) % content.length;
              content[at] = content[at]! ^ byte;
            });
            node.content = content;
          } else if (edit === 'drop') parent.children!.splice(index, 1);
          else if (edit === 'duplicate') parent.children!.splice(index, 0, clone(node));
          else node.tag = (node.tag & 0xe0) | (bytes[0]! % 31);
          const der = encode(copy);
          if (!placed(der)) return;
          placedCount++;
          expectSame(der);
        },
      ),
      { numRuns: 400 },
    );
    // Enough of the edits reach the reader to mean something.
    expect(placedCount).toBeGreaterThan(100);
  });
});
