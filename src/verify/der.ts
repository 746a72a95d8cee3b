import { CONTEXT, UNIVERSAL, type DerNode } from './der-node.js';

/**
 * DER (X.690 section 10) checks for what the verifier parses, and the shapes of its structures:
 * the reader (der-node.ts) reads BER's definite forms too, so without them different byte strings
 * would verify as the same token.
 */

/** Whether the TLV at `path` (child indexes from the top value) with identifier octet `tag` is left unwalked. */
export type Opaque = (path: readonly number[], tag: number) => boolean;

/**
 * The deepest nesting walked. A token's deepest value (a name in its ESSCertIDv2's issuerSerial)
 * is under 20 levels down; thousands of nested SEQUENCEs would exhaust the stack of this
 * recursive walk (a RangeError, not a refusal). OpenSSL's limit is 30 (ASN1_MAX_CONSTRUCTED_NEST).
 */
const MAX_DEPTH = 64;

const UNIVERSAL_STRINGS = new Set([3, 4, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
/** The universal types whose encoding is constructed: EXTERNAL, EMBEDDED PDV, SEQUENCE, SET. */
const CONSTRUCTED_TYPES = new Set([8, 11, 16, 17]);

/**
 * Why `bytes` (one complete value) is not DER, or undefined: indefinite or non-minimal lengths,
 * a tag number in the long form below 31, constructed strings, non-minimal INTEGERs or
 * ENUMERATEDs, a BOOLEAN other than 00/FF, a non-empty NULL, BIT STRING padding bits set,
 * GeneralizedTime or UTCTime not in the DER form (Z, no trailing fraction zeros) or with a field
 * out of range (month 13, February 30, hour 24, second 60: see calendarProblem), an OBJECT
 * IDENTIFIER empty, cut short or with a padded subidentifier, end-of-contents octets, a reserved
 * universal tag, a primitive type encoded constructed or a SEQUENCE or SET primitive, a BMPString
 * or UniversalString not a whole number of characters. An `opaque`
 * value has its header checked only (embedded certificates are hashed as received).
 */
export function derProblem(bytes: Uint8Array, opaque?: Opaque): string | undefined {
  const walk = (start: number, end: number, path: number[]): string | undefined => {
    let offset = start;
    for (let index = 0; offset < end; index++) {
      const at = `at offset ${offset}`;
      const tag = bytes[offset++] as number;
      if ((tag & 0x1f) === 0x1f) {
        let number = 0;
        if (bytes[offset] === 0x80) return `non-minimal tag number ${at}`;
        for (;;) {
          const octet = bytes[offset++];
          if (octet === undefined) return `truncated tag ${at}`;
          number = number * 128 + (octet & 0x7f);
          if (!(octet & 0x80)) break;
        }
        if (number < 31) return `tag number ${number} in the long form ${at}`;
      }
      const first = bytes[offset++];
      if (first === undefined) return `truncated length ${at}`;
      let length = first;
      if (first === 0x80) return `indefinite length ${at}`;
      if (first & 0x80) {
        const count = first & 0x7f;
        if (count > 4) return `length of ${count} octets ${at}`;
        if (bytes[offset] === 0) return `non-minimal length ${at}`;
        length = 0;
        for (let i = 0; i < count; i++) length = length * 256 + (bytes[offset++] as number);
        if (length < 0x80) return `non-minimal length ${at}`;
      }
      const contentEnd = offset + length;
      if (contentEnd > end) return `length past the end ${at}`;
      const childPath = [...path, index];
      if (childPath.length > MAX_DEPTH) return `values nested more than ${MAX_DEPTH} deep ${at}`;
      const constructed = (tag & 0x20) !== 0;
      const universal = (tag & 0xc0) === 0;
      const number = tag & 0x1f;
      if (!opaque?.(childPath, tag)) {
        // Tag 0 is end-of-contents, which only indefinite lengths (BER) have.
        if (tag === 0 || tag === 0x20) return `end-of-contents octets ${at}`;
        // 15 is reserved; no type of these structures has a universal tag number past 30.
        if (universal && (number === 15 || number === 31)) return `reserved universal tag ${at}`;
        if (
          universal &&
          constructed &&
          !CONSTRUCTED_TYPES.has(number) &&
          !UNIVERSAL_STRINGS.has(number)
        )
          return `constructed encoding of a primitive type ${at}`;
        if (universal && !constructed && CONSTRUCTED_TYPES.has(number))
          return `primitive encoding of a constructed type ${at}`;
        const problem = constructed
          ? universal && UNIVERSAL_STRINGS.has(number)
            ? `constructed string ${at}`
            : walk(offset, contentEnd, childPath)
          : universal
            ? primitiveProblem(number, bytes.subarray(offset, contentEnd), at)
            : undefined;
        if (problem) return problem;
      }
      offset = contentEnd;
    }
    return undefined;
  };
  return walk(0, bytes.length, []);
}

function primitiveProblem(number: number, content: Uint8Array, at: string): string | undefined {
  const [first] = content;
  switch (number) {
    case 1:
      return content.length === 1 && (first === 0 || first === 0xff)
        ? undefined
        : `BOOLEAN not 00 or FF ${at}`;
    case 2:
    case 10:
      return withOffset(integerProblem(content), at);
    case 3: {
      if (first === undefined || first > 7 || (content.length === 1 && first !== 0))
        return `malformed BIT STRING ${at}`;
      const last = content[content.length - 1] as number;
      return content.length > 1 && last & ((1 << first) - 1)
        ? `BIT STRING padding bits set ${at}`
        : undefined;
    }
    case 5:
      return content.length === 0 ? undefined : `NULL with contents ${at}`;
    case 28:
      return content.length % 4 === 0
        ? undefined
        : `UniversalString of ${content.length} octets ${at}`;
    case 30:
      return content.length % 2 === 0 ? undefined : `BMPString of ${content.length} octets ${at}`;
    case 6:
    case 13: {
      // X.690 8.19.2: subidentifiers in as few octets as possible, the last octet of each with
      // bit 8 clear; none at all is no OBJECT IDENTIFIER.
      if (content.length === 0) return `empty OBJECT IDENTIFIER ${at}`;
      if ((content[content.length - 1] as number) & 0x80)
        return `OBJECT IDENTIFIER cut short ${at}`;
      const padded = content.some(
        (octet, i) => octet === 0x80 && (i === 0 || !((content[i - 1] as number) & 0x80)),
      );
      return padded ? `non-minimal OBJECT IDENTIFIER ${at}` : undefined;
    }
    case 23: {
      const text = Buffer.from(content).toString('latin1');
      if (!/^\d{12}Z$/.test(text)) return `UTCTime not in the DER form ${at}`;
      // RFC 5280 section 4.1.2.5.1: YY below 50 is 20YY, else 19YY.
      const yy = Number(text.slice(0, 2));
      const problem = calendarProblem(yy < 50 ? 2000 + yy : 1900 + yy, text.slice(2, 12));
      return problem && `UTCTime ${text} has ${problem} ${at}`;
    }
    case 24:
      return withOffset(generalizedTimeProblem(content), at);
    default:
      return undefined;
  }
}

/**
 * Why `content` is not a GeneralizedTime's contents in the DER form (Z, no trailing fraction zeros)
 * naming a real instant (calendarProblem), or undefined. Exported for the implicitly tagged ones
 * (a privateKeyUsagePeriod's bounds), whose tag does not say so.
 */
export function generalizedTimeProblem(content: Uint8Array): string | undefined {
  const text = Buffer.from(content).toString('latin1');
  if (!/^\d{14}(\.\d*[1-9])?Z$/.test(text)) return 'GeneralizedTime not in the DER form';
  const problem = calendarProblem(Number(text.slice(0, 4)), text.slice(4, 14));
  return problem && `GeneralizedTime ${text} has ${problem}`;
}

/**
 * Which field of MMDDhhmmss (digits) in `year` is out of range, or undefined: month 1-12, day
 * within the month (Gregorian leap years), hour 0-23, minute and second 0-59. asn1js rolls them
 * over (month 13 is January of the next year); Go's encoding/asn1 refuses them, as time.Parse
 * does, a leap second 60 and an hour 24 included: so are they here.
 */
function calendarProblem(year: number, digits: string): string | undefined {
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((at) =>
    Number(digits.slice(at, at + 2)),
  ) as [number, number, number, number, number];
  if (month < 1 || month > 12) return `month ${month}`;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  if (day < 1 || day > days) return `day ${day} of month ${month}`;
  if (hour > 23) return `hour ${hour}`;
  if (minute > 59) return `minute ${minute}`;
  return second > 59 ? `second ${second}` : undefined;
}

/**
 * Why `content` is not a DER INTEGER's contents (empty, or a leading octet that only repeats the
 * sign), or undefined. Exported for the implicitly tagged INTEGERs, whose tag does not say so.
 */
export function integerProblem(content: Uint8Array): string | undefined {
  const [first, second] = content;
  if (first === undefined) return 'empty INTEGER';
  return second !== undefined &&
    ((first === 0 && second < 0x80) || (first === 0xff && second >= 0x80))
    ? 'non-minimal INTEGER'
    : undefined;
}

const withOffset = (problem: string | undefined, at: string) => problem && `${problem} ${at}`;

/** One element of a SEQUENCE's schema: a predicate on its tag, and whether it may be absent. */
export interface Field {
  name: string;
  is: (element: DerNode) => boolean;
  optional?: boolean;
}

/** A universal type by tag number (16 SEQUENCE, 17 SET, 2 INTEGER ...), in its DER form. */
export const universal = (tagNumber: number) => {
  const constructed = tagNumber === 16 || tagNumber === 17;
  return (element: DerNode) =>
    element.is(UNIVERSAL, tagNumber) && element.constructed === constructed;
};
/** A context-specific [n] element, primitive or constructed (an IMPLICIT tag's type says which). */
export const context = (tagNumber: number) => (element: DerNode) => element.is(CONTEXT, tagNumber);
/** A constructed context-specific [n] element: EXPLICIT, or an IMPLICIT SEQUENCE or SET. */
export const contextConstructed = (tagNumber: number) => (element: DerNode) =>
  element.is(CONTEXT, tagNumber) && element.constructed;

/**
 * Why `value` is not a SEQUENCE (or, implicitly tagged, the `tagged` element) whose elements
 * follow `fields` in order, optional ones possibly absent, and nothing after (no extension marker
 * in these schemas): undefined when it is.
 */
export function shapeProblem(
  value: DerNode | undefined,
  fields: readonly Field[],
  what: string,
  tagged: (element: DerNode) => boolean = universal(16),
): string | undefined {
  if (!value?.constructed || !tagged(value)) return `the ${what} is not a SEQUENCE`;
  const elements = value.children;
  let next = 0;
  for (const field of fields) {
    const element = elements[next];
    if (element && field.is(element)) next++;
    else if (!field.optional) return `the ${what} lacks its ${field.name}`;
  }
  return next === elements.length
    ? undefined
    : `the ${what} has ${elements.length - next} element(s) its schema does not have`;
}
