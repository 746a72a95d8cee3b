import { DerSequenceReader, readExactly, sequence, Tag, tlv } from '../../src/asn1/der.js';

/**
 * Times Node reads as "Bad time value", which the certificate builder refuses to write: what
 * `certificates create` once wrote for a lifetime past year 9999.
 */
export const UNREADABLE_TIME = {
  /** A five-digit GeneralizedTime year. */
  fiveDigitYear: tlv(Tag.GENERALIZED_TIME, Buffer.from('102740101000000Z')),
  /** An Invalid Date written as UTCTime. */
  nanUtcTime: tlv(Tag.UTC_TIME, Buffer.from('NaNNaNNaNNaNNaNNaNZ')),
};

/** `certificate` with its notBefore or notAfter replaced, unsigned again (no one checks a root's). */
export function withTime(
  certificate: Uint8Array,
  field: 'notBefore' | 'notAfter',
  time: Buffer,
): Buffer {
  const outer = new DerSequenceReader(readExactly(certificate, Tag.SEQUENCE).value);
  const tbs = new DerSequenceReader(outer.next(Tag.SEQUENCE).value);
  const fields: Uint8Array[] = [];
  while (!tbs.done) fields.push(tbs.next().bytes);
  // version, serialNumber, signature, issuer, validity
  const validity = new DerSequenceReader(readExactly(fields[4]!, Tag.SEQUENCE).value);
  const [notBefore, notAfter] = [validity.next().bytes, validity.next().bytes];
  fields[4] = field === 'notBefore' ? sequence(time, notAfter) : sequence(notBefore, time);
  return sequence(sequence(...fields), outer.next().bytes, outer.next().bytes);
}
