/**
 * The one-pass writer (DerWriter, writeHeader, headerLength) against the copying encoder (tlv),
 * and the encoders' edge values.
 */
import { describe, expect, it } from 'vitest';
import {
  bitString,
  checkOidContent,
  contextTag,
  DerError,
  DerSequenceReader,
  DerWriter,
  encodingBuffer,
  headerLength,
  integer,
  namedBitString,
  octetString,
  oidContent,
  readElement,
  sequence,
  set,
  Tag,
  time,
  tlv,
  tlvLength,
  unsignedInteger,
  writeHeader,
} from '../../../src/asn1/der.js';

// Each length form's boundaries: short, 0x81, 0x82, 0x83 and 0x84 length octets.
const LENGTHS = [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0x1000000];

describe('headerLength and writeHeader: the one-pass encoder', () => {
  it.each(LENGTHS)('length %i: the same header octets as tlv writes', (length) => {
    const reference = tlv(Tag.OCTET_STRING, Buffer.alloc(length));
    const header = reference.subarray(0, reference.length - length);
    expect(headerLength(length)).toBe(header.length);
    expect(tlvLength(length)).toBe(reference.length);
    const out = new Uint8Array(header.length + 2).fill(0xee);
    // Written at an offset, returning where the content starts; nothing past the header touched.
    expect(writeHeader(out, 1, Tag.OCTET_STRING, length)).toBe(1 + header.length);
    expect(Buffer.from(out.subarray(1, 1 + header.length))).toEqual(header);
    expect([out[0], out[out.length - 1]]).toEqual([0xee, 0xee]);
  });
});

describe('DerWriter', () => {
  it('writes headers, bytes, single octets and retagged TLVs front to back', () => {
    const inner = set(integer(5), integer(3));
    const content = tlvLength(3) + 1 + inner.length;
    const written = new DerWriter(tlvLength(content))
      .header(Tag.SEQUENCE, content)
      .header(Tag.OCTET_STRING, 3)
      .byte(0x01)
      .bytes(Uint8Array.of(0x02, 0x03))
      .byte(0x05)
      .retagged(contextTag(0, true), inner)
      .finish();
    expect(written).toEqual(
      sequence(
        octetString(Uint8Array.of(1, 2, 3)),
        Uint8Array.of(0x05),
        tlv(contextTag(0, true), integer(5), integer(3)),
      ),
    );
    // The element it retagged is left as it was.
    expect(inner[0]).toBe(Tag.SET);
  });

  it('refuses to finish a value whose lengths were computed wrong', () => {
    const writer = new DerWriter(4).header(Tag.OCTET_STRING, 1).byte(0);
    expect(() => writer.finish()).toThrow(
      new DerError('INVALID_VALUE', 'encoder wrote 3 of 4 octets'),
    );
  });
});

describe('encodingBuffer', () => {
  it('hands out pieces that never overlap, across slabs, and large ones of their own', () => {
    // Sizes of tokens and their parts, past several 64 KiB slabs, and some too large to share one.
    const sizes = Array.from(
      { length: 400 },
      (_, i) => [1, 7, 150, 677, 4096, 9000][i % 6] as number,
    );
    const pieces = sizes.map((size, i) => encodingBuffer(size).fill(i % 251));
    pieces.forEach((piece, i) => {
      expect(piece.length).toBe(sizes[i]);
      expect(piece.every((octet) => octet === i % 251)).toBe(true);
      if (piece.length > 8192) expect(piece.buffer.byteLength).toBe(piece.length);
      else {
        expect(piece.buffer.byteLength).toBe(64 * 1024);
        expect(piece.byteOffset % 8).toBe(0);
      }
    });
  });
});

describe('DER encoder edge values', () => {
  it.each([
    [[], '020100'],
    [[0x00, 0x00], '020100'],
    [[0x00, 0x00, 0x01], '020101'],
    [[0x7f], '02017f'],
    [[0x80], '02020080'],
    [[0x00, 0xff, 0x01], '020300ff01'],
  ])('unsignedInteger(%j) is %s', (magnitude, hex) => {
    expect(unsignedInteger(Uint8Array.from(magnitude)).toString('hex')).toBe(hex);
  });

  it('encodes context tags: [n] primitive and constructed', () => {
    expect([
      contextTag(0, false),
      contextTag(1, false),
      contextTag(0, true),
      contextTag(3, true),
    ]).toEqual([0x80, 0x81, 0xa0, 0xa3]);
  });

  it('encodes a BIT STRING with a leading no-unused-bits octet', () => {
    expect(bitString(Uint8Array.of(0xde, 0xad)).toString('hex')).toBe('030300dead');
  });

  it('encodes an empty named bit string as no bits and no unused bits', () => {
    expect(namedBitString([]).toString('hex')).toBe('030100');
  });

  it.each([
    ['1949-12-31T23:59:59Z', '180f31393439313233313233353935395a'],
    ['1950-01-01T00:00:00Z', '170d3530303130313030303030305a'],
    ['2049-12-31T23:59:59Z', '170d3439313233313233353935395a'],
    ['2050-01-01T00:00:00Z', '180f32303530303130313030303030305a'],
  ])('Time of %s: UTCTime only for 1950-2049 (RFC 5280)', (iso, hex) => {
    expect(time(new Date(iso)).toString('hex')).toBe(hex);
  });
});

describe('checkOidContent', () => {
  it('accepts minimal arcs, multi-octet ones included', () => {
    expect(() => checkOidContent(oidContent('1.2.840.113549.1.1.11'))).not.toThrow();
  });

  it.each([
    ['empty content', [], new DerError('INVALID_VALUE', 'empty OID')],
    ['a leading 0x80 octet', [0x2a, 0x80, 0x01], new DerError('NOT_DER', 'non-minimal OID arc')],
    [
      'a first arc with a leading 0x80',
      [0x80, 0x2a],
      new DerError('NOT_DER', 'non-minimal OID arc'),
    ],
    ['an unterminated last arc', [0x2a, 0x86], new DerError('TRUNCATED', 'truncated OID arc')],
  ])('refuses %s', (_name, content, error) => {
    let thrown: unknown;
    try {
      checkOidContent(Uint8Array.from(content));
    } catch (caught) {
      thrown = caught;
    }
    expect(thrown).toBeInstanceOf(DerError);
    expect(thrown).toMatchObject({ code: error.code, message: error.message });
  });
});

describe('strict reader edge cases', () => {
  it.each([
    ['five length octets', [0x04, 0x85, 0x01, 0, 0, 0, 0], 'TOO_LONG', 'length too large'],
    ['indefinite length', [0x30, 0x80, 0x00, 0x00], 'NOT_DER', 'indefinite length is not DER'],
    ['a high tag number', [0x1f, 0x01, 0x00], 'UNSUPPORTED', 'high tag numbers are not supported'],
    ['a long form for a short length', [0x04, 0x81, 0x7f], 'NOT_DER', 'non-minimal length'],
  ])('refuses %s with its code', (_name, bytes, code, message) => {
    let thrown: unknown;
    try {
      readElement(Uint8Array.from(bytes));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DerError);
    expect(thrown).toMatchObject({ code, message });
  });

  it('refuses long-form length octets cut off by the end of the input', () => {
    expect(() => readElement(Uint8Array.of(0x04, 0x82, 0x01))).toThrow(
      new DerError('TRUNCATED', 'truncated length'),
    );
  });

  it('reads an optional element that is present, and moves past it', () => {
    const reader = new DerSequenceReader(
      sequence(octetString(Uint8Array.of(7)), integer(2)).subarray(2),
    );
    expect([...(reader.optional(Tag.OCTET_STRING)?.value ?? [])]).toEqual([7]);
    expect(reader.peekTag()).toBe(Tag.INTEGER);
  });
});
