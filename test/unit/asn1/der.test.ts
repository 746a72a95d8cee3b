import * as asn1js from 'asn1js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkIntegerContent,
  DerError,
  integer,
  integerToBigInt,
  namedBitString,
  oid,
  oidToString,
  readElement,
  readExactly,
  Tag,
} from '../../../src/asn1/der.js';

describe('strict DER reader', () => {
  it.each([
    ['indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['non-minimal long form', [0x04, 0x81, 0x05, 1, 2, 3, 4, 5]],
    ['leading zero length octet', [0x04, 0x82, 0x00, 0x81, ...new Array(0x81).fill(0)]],
    ['length past the input', [0x04, 0x05, 1, 2]],
    ['a 2^31 length prefix', [0x04, 0x84, 0x80, 0x00, 0x00, 0x00]],
    ['five length octets', [0x04, 0x85, 0, 0, 0, 0, 1, 0]],
    ['a high tag number', [0x1f, 0x81, 0x00, 0x00]],
    ['a lone tag', [0x30]],
  ])('refuses %s', (_name, bytes) => {
    expect(() => readElement(Uint8Array.from(bytes))).toThrow(DerError);
  });

  it('refuses trailing bytes and a wrong outer tag', () => {
    expect(() => readExactly(Uint8Array.of(0x30, 0x00, 0x00), Tag.SEQUENCE)).toThrow(
      'trailing bytes',
    );
    expect(() => readExactly(Uint8Array.of(0x31, 0x00), Tag.SEQUENCE)).toThrow(DerError);
  });

  it('refuses non-minimal INTEGERs', () => {
    expect(() => checkIntegerContent(Uint8Array.of(0x00, 0x01))).toThrow('non-minimal');
    expect(() => checkIntegerContent(Uint8Array.of(0xff, 0x80))).toThrow('non-minimal');
    expect(() => checkIntegerContent(Uint8Array.of())).toThrow('empty');
  });
});

describe('DER encoder', () => {
  it('encodes INTEGERs as asn1js does and reads them back', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }), (value) => {
        const ours = integer(value);
        expect(Buffer.from(asn1js.Integer.fromBigInt(value).toBER())).toEqual(ours);
        expect(integerToBigInt(readExactly(ours, Tag.INTEGER).value)).toBe(value);
      }),
    );
  });

  it('encodes OIDs as asn1js does and prints them back', () => {
    const arc = fc.bigInt({ min: 0n, max: 1n << 70n });
    fc.assert(
      fc.property(
        fc.constantFrom(0n, 1n, 2n),
        fc.bigInt({ min: 0n, max: 39n }),
        fc.array(arc, { maxLength: 8 }),
        (first, second, rest) => {
          const dotted = [first, second, ...rest].join('.');
          const ours = oid(dotted);
          expect(Buffer.from(new asn1js.ObjectIdentifier({ value: dotted }).toBER())).toEqual(ours);
          expect(oidToString(readExactly(ours, Tag.OID).value)).toBe(dotted);
        },
      ),
    );
  });

  it('refuses malformed dotted OIDs', () => {
    for (const bad of ['1', '1..2', '3.1', '1.40', 'a.b', '1.2.'])
      expect(() => oid(bad)).toThrow(DerError);
  });

  it('encodes named bit strings without trailing zero bits (X.690 11.2.2)', () => {
    expect(namedBitString([0]).toString('hex')).toBe('03020780');
    expect(namedBitString([5]).toString('hex')).toBe('03020204');
    expect(namedBitString([14]).toString('hex')).toBe('0303010002');
    expect(namedBitString([25]).toString('hex')).toBe('030506000000' + '40');
    expect(namedBitString([5, 6]).toString('hex')).toBe('03020106');
  });
});
