import * as asn1js from 'asn1js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  asBuffer,
  boolean,
  checkIntegerContent,
  DerError,
  DerSequenceReader,
  generalizedTime,
  integer,
  integerToBigInt,
  namedBitString,
  oid,
  oidToString,
  octetString,
  readBoolean,
  readElement,
  readExactly,
  sequence,
  Tag,
  time,
  toHex,
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
  it.each([
    [0, '20260601120000Z', '20260601120000Z'],
    [500, '20260601120000Z', '20260601120000.5Z'],
    [50, '20260601120000Z', '20260601120000.05Z'],
    [999, '20260601120000Z', '20260601120000.999Z'],
  ])(
    'GeneralizedTime of 12:00:00 + %i ms: %s, with milliseconds %s (X.690: no trailing zeros)',
    (ms, whole, fractional) => {
      const date = new Date(Date.UTC(2026, 5, 1, 12, 0, 0, ms));
      expect(readExactly(generalizedTime(date), Tag.GENERALIZED_TIME).value.toString()).toBe(whole);
      const encoded = generalizedTime(date, true);
      expect(readExactly(encoded, Tag.GENERALIZED_TIME).value.toString()).toBe(fractional);
      // asn1js reads it back to the millisecond.
      const { result } = asn1js.fromBER(encoded);
      expect((result as asn1js.GeneralizedTime).toDate().getTime()).toBe(date.getTime());
    },
  );

  it('writes the years 0000 to 9999, UTCTime for 1950 to 2049 (RFC 5280 4.1.2.5)', () => {
    const text = (encoded: Buffer) => `${encoded[0]}:${encoded.subarray(2).toString('latin1')}`;
    const latest = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
    expect(text(time(latest))).toBe(`${Tag.GENERALIZED_TIME}:99991231235959Z`);
    expect(text(generalizedTime(latest))).toBe(`${Tag.GENERALIZED_TIME}:99991231235959Z`);
    const earliest = new Date(Date.UTC(0, 0, 1));
    earliest.setUTCFullYear(0);
    expect(text(time(earliest))).toBe(`${Tag.GENERALIZED_TIME}:00000101000000Z`);
    expect(text(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))))).toBe(
      `${Tag.UTC_TIME}:491231235959Z`,
    );
    expect(text(time(new Date(Date.UTC(2050, 0, 1))))).toBe(
      `${Tag.GENERALIZED_TIME}:20500101000000Z`,
    );
  });

  it.each([
    ['an Invalid Date', new Date(Number.NaN), 'time Invalid Date is not between'],
    ['year 10000', new Date(Date.UTC(10_000, 0, 1)), 'time +010000-01-01T00:00:00.000Z'],
    ['year -1', new Date(Date.UTC(-1, 11, 31)), 'time -000001-12-31T00:00:00.000Z'],
  ])('refuses to write %s, which no parser reads back', (_name, date, message) => {
    for (const encode of [time, generalizedTime, (d: Date) => generalizedTime(d, true)]) {
      expect(() => encode(date)).toThrow(message);
      expect(() => encode(date)).toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
    }
  });

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

  it('refuses to print OID content that is empty or ends inside an arc', () => {
    for (const bad of [[], [0x2a, 0x86], [0x81]])
      expect(() => oidToString(Uint8Array.from(bad))).toThrow(
        expect.objectContaining({ code: 'INVALID_VALUE' }),
      );
    expect(oidToString(Uint8Array.from([0x2a, 0x86, 0x48]))).toBe('1.2.840');
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

describe('DER lengths, readers and helpers', () => {
  it.each([
    [0x7f, [0x7f]],
    [0x80, [0x81, 0x80]],
    [0x100, [0x82, 0x01, 0x00]],
    [0x10000, [0x83, 0x01, 0x00, 0x00]],
    [0x1000000, [0x84, 0x01, 0x00, 0x00, 0x00]],
  ])('a %i-octet value gets the minimal length octets, as asn1js writes them', (length, header) => {
    const encoded = octetString(Buffer.alloc(length, 0xa5));
    expect([...encoded.subarray(1, 1 + header.length)]).toEqual(header);
    const reference = new asn1js.OctetString({ valueHex: new Uint8Array(length) }).toBER();
    expect(Buffer.from(reference).subarray(0, 1 + header.length)).toEqual(
      encoded.subarray(0, 1 + header.length),
    );
    expect(readExactly(encoded, Tag.OCTET_STRING).value.length).toBe(length);
  });

  it('walks a SEQUENCE: optional elements, expected tags, missing and trailing elements', () => {
    const reader = new DerSequenceReader(sequence(integer(1), boolean(true)).subarray(2));
    expect(reader.optional(Tag.OCTET_STRING)).toBeUndefined();
    expect(() => reader.next(Tag.OCTET_STRING)).toThrow('expected tag 0x4, got 0x2');
    expect(integerToBigInt(reader.next(Tag.INTEGER).value)).toBe(1n);
    expect(() => reader.end()).toThrow('unexpected trailing element');
    expect(readBoolean(reader.next())).toBe(true);
    reader.end();
    expect(reader.peekTag()).toBeUndefined();
    expect(() => reader.next()).toThrow(new DerError('TRUNCATED', 'missing element'));
  });

  it('reads only DER BOOLEANs (one octet, 0x00 or 0xFF)', () => {
    expect(readBoolean(readElement(boolean(false)))).toBe(false);
    expect(() => readBoolean(readElement(Buffer.from([0x01, 0x01, 0x01])))).toThrow(
      'BOOLEAN must be 0x00 or 0xFF in DER',
    );
    expect(() => readBoolean(readElement(Buffer.from([0x01, 0x02, 0xff, 0xff])))).toThrow(
      'BOOLEAN must be one octet',
    );
  });

  it('views any Uint8Array as a Buffer without copying', () => {
    const bytes = new Uint8Array([0, 1, 2, 3]).subarray(1, 3);
    const view = asBuffer(bytes);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(toHex(view)).toBe('0102');
    view[0] = 9;
    expect(bytes[0]).toBe(9);
    expect(asBuffer(view)).toBe(view);
  });
});
