import { dottedOid, twosComplementValue } from '../der-numbers.js';
import { DecodeError } from './errors.js';

/**
 * A DER value read in place: the token reader walks a token with these rather than asn1js, whose
 * decoding costs several times a token's signature check (asn1js 4 type-checks its buffers with
 * `Object.prototype.toString` some thousands of times a token). The bytes are checked as DER first
 * (derProblem): here only the structure is read, and a value that does not fit throws DecodeError.
 */
export class DerNode {
  private elements: DerNode[] | undefined;

  constructor(
    /** The whole TLV. */
    readonly der: Buffer,
    /** 0 universal, 1 application, 2 context-specific, 3 private (X.690 8.1.2.2). */
    readonly tagClass: number,
    readonly tagNumber: number,
    readonly constructed: boolean,
    /** Where the contents octets begin in `der`. */
    private readonly headerLength: number,
  ) {}

  /** The contents octets. */
  get content(): Buffer {
    return this.der.subarray(this.headerLength);
  }

  /** The values inside a constructed one, in order; none in a primitive one. */
  get children(): DerNode[] {
    this.elements ??= this.constructed ? readAll(this.content) : [];
    return this.elements;
  }

  is(tagClass: number, tagNumber: number): boolean {
    return this.tagClass === tagClass && this.tagNumber === tagNumber;
  }
}

export const UNIVERSAL = 0;
export const CONTEXT = 2;

/** The value at `offset` of `bytes`. */
export function readNode(bytes: Buffer, offset = 0): DerNode {
  let at = offset;
  const next = (): number => {
    const octet = bytes[at++];
    if (octet === undefined)
      throw new DecodeError('not-der', `truncated value at offset ${offset}`);
    return octet;
  };
  const identifier = next();
  let tagNumber = identifier & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let octet = next(); ; octet = next()) {
      tagNumber = tagNumber * 128 + (octet & 0x7f);
      if (tagNumber > Number.MAX_SAFE_INTEGER / 128)
        throw new DecodeError('not-der', `tag number too large at offset ${offset}`);
      if (!(octet & 0x80)) break;
    }
  }
  let length = next();
  if (length === 0x80) throw new DecodeError('not-der', `indefinite length at offset ${offset}`);
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count > 4)
      throw new DecodeError('not-der', `length of ${count} octets at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + next();
  }
  const end = at + length;
  if (end > bytes.length)
    throw new DecodeError('not-der', `length past the end at offset ${offset}`);
  return new DerNode(
    bytes.subarray(offset, end),
    identifier >> 6,
    tagNumber,
    (identifier & 0x20) !== 0,
    at - offset,
  );
}

/** Every value of `bytes`, which they must fill. */
export function readAll(bytes: Buffer): DerNode[] {
  const nodes: DerNode[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const node = readNode(bytes, offset);
    nodes.push(node);
    offset += node.der.length;
  }
  return nodes;
}

/** An OBJECT IDENTIFIER's contents as dotted text (X.690 8.19). */
export function oidText(content: Uint8Array): string {
  const dotted = dottedOid(content);
  if (dotted === undefined) throw new DecodeError('not-der', 'an OBJECT IDENTIFIER cut short');
  return dotted;
}

/** An INTEGER's contents (two's complement) as a bigint. */
export function integerValue(content: Uint8Array): bigint {
  if (content.length === 0) throw new DecodeError('not-der', 'an empty INTEGER');
  return twosComplementValue(content);
}

/**
 * A UTCTime or GeneralizedTime value as a Date, as asn1js's toDate reads the DER forms derProblem
 * lets through (YYMMDDhhmmssZ, with YY below 50 in 20YY; YYYYMMDDhhmmss[.f…]Z, the fraction to the
 * millisecond, rounded down); undefined for any other value.
 */
export function timeValue(node: DerNode): Date | undefined {
  if (node.tagClass !== UNIVERSAL || node.constructed) return undefined;
  const text = node.content.toString('latin1');
  let digits: string;
  let fraction = '';
  if (node.tagNumber === 23) {
    if (!/^\d{12}Z$/.test(text)) return undefined;
    const yy = Number(text.slice(0, 2));
    digits = `${yy < 50 ? 20 : 19}${text.slice(0, 12)}`;
  } else if (node.tagNumber === 24) {
    const match = /^(\d{14})(\.\d+)?Z$/.exec(text);
    if (!match) return undefined;
    digits = match[1] as string;
    fraction = match[2] ?? '';
  } else return undefined;
  const field = (at: number, length: number) => Number(digits.slice(at, at + length));
  const millisecond = fraction ? Math.floor(1e3 * Number(`0${fraction}`)) : 0;
  return new Date(
    Date.UTC(
      field(0, 4),
      field(4, 2) - 1,
      field(6, 2),
      field(8, 2),
      field(10, 2),
      field(12, 2),
      millisecond,
    ),
  );
}
