/**
 * Minimal strict DER: an encoder for the structures we build and a reader that refuses anything
 * that is not DER (indefinite or non-minimal lengths, high tag numbers, lengths past the input).
 * asn1js accepts BER and trailing bytes, so it is not used on untrusted input in the hot path.
 */

import { dottedOid, twosComplementOctets, twosComplementValue } from '../der-numbers.js';
import { CodedError } from '../errors.js';

/** What is wrong with an encoding: callers branch on it, the message says where. */
export type DerErrorCode =
  | 'TRUNCATED'
  | 'NOT_DER'
  | 'UNSUPPORTED'
  | 'UNEXPECTED_TAG'
  | 'TRAILING_DATA'
  | 'INVALID_VALUE'
  | 'TOO_LONG';

export class DerError extends CodedError<DerErrorCode> {
  override name = 'DerError';
}

/** ASN.1 tags (universal class unless noted). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Tag byte of a context-specific [n] field. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function lengthBytes(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length < 0x100) return Uint8Array.of(0x81, length);
  if (length < 0x10000) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length < 0x1000000)
    return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  return Uint8Array.of(
    0x84,
    length >>> 24,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  );
}

/** Octets of a TLV's tag and length in front of `length` content octets (one-octet tags). */
export function headerLength(length: number): number {
  if (length < 0x80) return 2;
  if (length < 0x100) return 3;
  if (length < 0x10000) return 4;
  return length < 0x1000000 ? 5 : 6;
}

/** A whole TLV's length around `length` content octets. */
export const tlvLength = (length: number): number => headerLength(length) + length;

/**
 * Writes a tag and the DER length of `length` content octets at `offset` of `out` (which must have
 * room: {@link headerLength}); returns the offset of the content. For one-pass encoders that
 * compute every length first and copy each piece once.
 */
export function writeHeader(out: Uint8Array, offset: number, tag: number, length: number): number {
  out[offset++] = tag;
  if (length < 0x80) {
    out[offset++] = length;
    return offset;
  }
  const octets = headerLength(length) - 2;
  out[offset++] = 0x80 | octets;
  for (let shift = (octets - 1) * 8; shift >= 0; shift -= 8)
    out[offset++] = (length >>> shift) & 0xff;
  return offset;
}

/** Encodings up to this size are cut from a shared slab (encodingBuffer). */
const SLAB_BYTES = 64 * 1024;
const LARGEST_FROM_SLAB = SLAB_BYTES / 8;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabOffset = 0;

/**
 * Uninitialised memory for an encoding the caller fills whole (a token, its TSTInfo, its signed
 * attributes), cut from a 64 KiB slab. Making and collecting an ArrayBuffer costs a few µs in
 * Node 20, and Buffer's own pool is 8 KiB: a new one every seven tokens cost ~1.3 µs of each
 * (docs/performance.md). As with a pooled Buffer, a piece keeps its whole slab alive, and its
 * `buffer` must never be transferred to a worker.
 */
export function encodingBuffer(length: number): Buffer {
  if (length > LARGEST_FROM_SLAB) return Buffer.allocUnsafe(length);
  if (slabOffset + length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabOffset = 0;
  }
  // A view made from the ArrayBuffer: Buffer#subarray costs several times as much (species lookup).
  const out = Buffer.from(slab.buffer, slabOffset, length);
  // Each piece starts 8-aligned, as Buffer's pool aligns them.
  slabOffset = (slabOffset + length + 7) & ~7;
  return out;
}

/**
 * Writes a DER value of known total length into one buffer, front to back: the caller computes
 * every length first ({@link tlvLength}), then each piece is copied once.
 */
export class DerWriter {
  readonly out: Buffer;
  private offset = 0;

  constructor(length: number) {
    this.out = encodingBuffer(length);
  }

  header(tag: number, length: number): this {
    this.offset = writeHeader(this.out, this.offset, tag, length);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.out.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  byte(value: number): this {
    this.out[this.offset++] = value;
    return this;
  }

  /** A whole TLV with its tag replaced (an IMPLICIT tag over an encoded SET). */
  retagged(tag: number, element: Uint8Array): this {
    const start = this.offset;
    this.bytes(element);
    this.out[start] = tag;
    return this;
  }

  /** The value; a length computed wrong is a bug, never a token. */
  finish(): Buffer {
    if (this.offset !== this.out.length) {
      throw new DerError(
        'INVALID_VALUE',
        `encoder wrote ${this.offset} of ${this.out.length} octets`,
      );
    }
    return this.out;
  }
}

/** One TLV whose value is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const header = lengthBytes(length);
  const out = Buffer.allocUnsafe(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let offset = 1 + header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const sequence = (...parts: Uint8Array[]): Buffer => tlv(Tag.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]): Buffer => tlv(Tag.SET, ...parts);
export const octetString = (value: Uint8Array): Buffer => tlv(Tag.OCTET_STRING, value);
export const NULL = Buffer.from([Tag.NULL, 0x00]);

/** DER BOOLEAN. */
export const boolean = (value: boolean): Buffer =>
  Buffer.from([Tag.BOOLEAN, 1, value ? 0xff : 0x00]);

/** BIT STRING with no unused bits (signatures, public keys). */
export const bitString = (value: Uint8Array): Buffer =>
  tlv(Tag.BIT_STRING, Uint8Array.of(0), value);

/** Minimal two's-complement content octets of an INTEGER. */
export const integerContent = (value: bigint): Uint8Array => twosComplementOctets(value);

export const integer = (value: bigint | number): Buffer =>
  tlv(Tag.INTEGER, integerContent(BigInt(value)));

/** INTEGER from an unsigned big-endian magnitude (serial numbers): strips zeros, adds a sign byte. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return tlv(Tag.INTEGER, Uint8Array.of(0));
  return (trimmed[0] as number) & 0x80
    ? tlv(Tag.INTEGER, Uint8Array.of(0), trimmed)
    : tlv(Tag.INTEGER, trimmed);
}

/** Content octets of an OBJECT IDENTIFIER given in dotted form; throws on a malformed OID. */
export function oidContent(dotted: string): Buffer {
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new DerError('INVALID_VALUE', `invalid OID "${dotted}"`);
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  // The pattern above guarantees at least two arcs.
  const first = arcs[0] as bigint;
  const second = arcs[1] as bigint;
  if (first > 2n || (first < 2n && second > 39n))
    throw new DerError('INVALID_VALUE', `invalid OID "${dotted}"`);
  const out: number[] = [];
  const pushArc = (arc: bigint): void => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.push(Number(v & 0x7fn) | 0x80);
    out.push(...chunk.reverse());
  };
  pushArc(first * 40n + second);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return Buffer.from(out);
}

export const oid = (dotted: string): Buffer => tlv(Tag.OID, oidContent(dotted));

/**
 * Dotted form of OID content octets. Callers that read OIDs from certificates do not all check
 * them with {@link readOid}: empty content or a last arc cut short is refused, not printed as 0.0.
 */
export function oidToString(content: Uint8Array): string {
  const dotted = dottedOid(content);
  if (dotted === undefined)
    throw new DerError('INVALID_VALUE', 'malformed OBJECT IDENTIFIER content');
  return dotted;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** "MMDDHHMMSSZ" of a UTC instant (whole seconds), the part both time types share. */
const monthToSecond = (date: Date): string =>
  pad2(date.getUTCMonth() + 1) +
  pad2(date.getUTCDate()) +
  pad2(date.getUTCHours()) +
  pad2(date.getUTCMinutes()) +
  pad2(date.getUTCSeconds()) +
  'Z';

/**
 * The UTC year of a time both types can hold: four digits, so 0000 to 9999 (RFC 5280 4.1.2.5:
 * 99991231235959Z is the latest). An Invalid Date or a year past that is a bug or a lifetime too
 * long, refused here: written, it was "NaNNaN…Z" or a five-digit year that OpenSSL, Go and Node
 * cannot read, and a certificate holding it was taken as valid forever.
 */
function fourDigitYear(date: Date): number {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) {
    throw new DerError(
      'INVALID_VALUE',
      `time ${Number.isNaN(year) ? 'Invalid Date' : date.toISOString()} is not between years 0000 and 9999`,
    );
  }
  return year;
}

/**
 * GeneralizedTime "YYYYMMDDHHMMSSZ" (whole seconds, UTC), as RFC 5280 requires in certificates.
 * With `milliseconds`, a fraction of a second is kept as DER writes it (X.690 11.7): "SS.fffZ"
 * without trailing zeros, and no decimal point for a whole second (RFC 3161 genTime).
 */
export function generalizedTime(date: Date, milliseconds = false): Buffer {
  let text = String(fourDigitYear(date)).padStart(4, '0') + monthToSecond(date);
  const ms = date.getUTCMilliseconds();
  if (milliseconds && ms !== 0) {
    const fraction = String(ms).padStart(3, '0').replace(/0+$/, '');
    text = `${text.slice(0, -1)}.${fraction}Z`;
  }
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(text, 'latin1'));
}

/** RFC 5280 / RFC 5652 Time: UTCTime for 1950–2049, GeneralizedTime otherwise. */
export function time(date: Date): Buffer {
  const year = fourDigitYear(date);
  if (year < 1950 || year >= 2050) return generalizedTime(date);
  return tlv(Tag.UTC_TIME, Buffer.from(pad2(year % 100) + monthToSecond(date), 'latin1'));
}

// ---------------------------------------------------------------------------------------------
// Strict reading

/** One element found by {@link readElement}. `bytes` is the whole TLV, `value` its contents. */
export class Element {
  private whole: Uint8Array | undefined;

  constructor(
    readonly tag: number,
    readonly value: Uint8Array,
    /** Offset just past the element in the input it was read from. */
    readonly end: number,
    private readonly input: Uint8Array,
    private readonly start: number,
  ) {}

  /** Made when first asked: most elements are read for their contents alone (a view is ~60 ns). */
  get bytes(): Uint8Array {
    return (this.whole ??= this.input.subarray(this.start, this.end));
  }
}

/** Reads one DER element at `offset` of `input`, which must lie within `input`. */
export function readElement(input: Uint8Array, offset = 0): Element {
  if (offset + 2 > input.length) throw new DerError('TRUNCATED', 'truncated element');
  const tag = input[offset] as number;
  if ((tag & 0x1f) === 0x1f)
    throw new DerError('UNSUPPORTED', 'high tag numbers are not supported');
  let lengthByte = input[offset + 1] as number;
  let headerLength = 2;
  let length: number;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    const count = lengthByte & 0x7f;
    if (count === 0) throw new DerError('NOT_DER', 'indefinite length is not DER');
    if (count > 4) throw new DerError('TOO_LONG', 'length too large');
    if (offset + 2 + count > input.length) throw new DerError('TRUNCATED', 'truncated length');
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = input[offset + 2 + i] as number;
      if (i === 0 && lengthByte === 0) throw new DerError('NOT_DER', 'non-minimal length');
      length = length * 256 + lengthByte;
    }
    if (length < 0x80) throw new DerError('NOT_DER', 'non-minimal length');
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw new DerError('TRUNCATED', 'element longer than its container');
  return new Element(tag, input.subarray(offset + headerLength, end), end, input, offset);
}

/** Reads the single element that must fill `input` exactly (no trailing bytes). */
export function readExactly(input: Uint8Array, tag: number): Element {
  const element = readElement(input, 0);
  if (element.tag !== tag)
    throw new DerError('UNEXPECTED_TAG', `expected tag 0x${tag.toString(16)}`);
  if (element.end !== input.length) throw new DerError('TRAILING_DATA', 'trailing bytes');
  return element;
}

/** Walks the elements inside a constructed value in order. */
export class DerSequenceReader {
  private offset = 0;
  constructor(private readonly content: Uint8Array) {}

  get done(): boolean {
    return this.offset >= this.content.length;
  }

  peekTag(): number | undefined {
    return this.done ? undefined : this.content[this.offset];
  }

  next(expectedTag?: number): Element {
    if (this.done) throw new DerError('TRUNCATED', 'missing element');
    const element = readElement(this.content, this.offset);
    if (expectedTag !== undefined && element.tag !== expectedTag) {
      throw new DerError(
        'UNEXPECTED_TAG',
        `expected tag 0x${expectedTag.toString(16)}, got 0x${element.tag.toString(16)}`,
      );
    }
    this.offset = element.end;
    return element;
  }

  /** Reads the next element only if it has `tag`. */
  optional(tag: number): Element | undefined {
    return this.peekTag() === tag ? this.next(tag) : undefined;
  }

  end(): void {
    if (!this.done) throw new DerError('TRAILING_DATA', 'unexpected trailing element');
  }
}

/** Checks INTEGER content octets are minimal two's complement. */
export function checkIntegerContent(content: Uint8Array): void {
  if (content.length === 0) throw new DerError('INVALID_VALUE', 'empty INTEGER');
  if (content.length > 1) {
    const a = content[0] as number;
    const b = content[1] as number;
    if ((a === 0x00 && (b & 0x80) === 0) || (a === 0xff && (b & 0x80) !== 0)) {
      throw new DerError('NOT_DER', 'non-minimal INTEGER');
    }
  }
}

export function integerToBigInt(content: Uint8Array): bigint {
  checkIntegerContent(content);
  return twosComplementValue(content);
}

/** Validates OID content octets: non-empty, minimal arcs, last octet terminates an arc. */
export function checkOidContent(content: Uint8Array): void {
  if (content.length === 0) throw new DerError('INVALID_VALUE', 'empty OID');
  let arcStart = true;
  for (const byte of content) {
    if (arcStart && byte === 0x80) throw new DerError('NOT_DER', 'non-minimal OID arc');
    arcStart = (byte & 0x80) === 0;
  }
  if (!arcStart) throw new DerError('TRUNCATED', 'truncated OID arc');
}

export function readBoolean(element: Element): boolean {
  if (element.value.length !== 1) throw new DerError('NOT_DER', 'BOOLEAN must be one octet');
  const byte = element.value[0];
  if (byte === 0x00) return false;
  if (byte === 0xff) return true;
  throw new DerError('NOT_DER', 'BOOLEAN must be 0x00 or 0xFF in DER');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Buffer view of any Uint8Array without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** DER named BIT STRING (X.690 11.2.2: trailing zero bits removed), e.g. KeyUsage, PKIFailureInfo. */
export function namedBitString(bits: readonly number[]): Buffer {
  if (bits.length === 0) return Buffer.from([Tag.BIT_STRING, 1, 0]);
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  const unusedBits = 7 - (highest & 7);
  return tlv(Tag.BIT_STRING, Uint8Array.of(unusedBits), bytes);
}
