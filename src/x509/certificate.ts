import { X509Certificate } from 'node:crypto';
import { contextTag, DerSequenceReader, readExactly, Tag } from '../asn1/der.js';

/**
 * A certificate with the raw DER pieces a TSA copies into its tokens (issuer and subject names,
 * serial number) alongside Node's parsed view.
 */
export interface Certificate {
  der: Buffer;
  x509: X509Certificate;
  /** The whole serialNumber INTEGER TLV. */
  serialNumber: Uint8Array;
  /** The whole issuer Name TLV. */
  issuer: Uint8Array;
  /** The whole subject Name TLV. */
  subject: Uint8Array;
}

/** Parses a DER certificate, keeping its raw fields. Throws on malformed input. */
export function parseCertificate(der: Uint8Array): Certificate {
  const buffer = Buffer.from(der);
  const certificate = new DerSequenceReader(readExactly(buffer, Tag.SEQUENCE).value);
  const tbs = new DerSequenceReader(certificate.next(Tag.SEQUENCE).value);
  tbs.optional(contextTag(0, true)); // version
  const serialNumber = tbs.next(Tag.INTEGER).bytes;
  tbs.next(Tag.SEQUENCE); // signature algorithm
  const issuer = tbs.next(Tag.SEQUENCE).bytes;
  tbs.next(Tag.SEQUENCE); // validity
  const subject = tbs.next(Tag.SEQUENCE).bytes;
  return { der: buffer, x509: new X509Certificate(buffer), serialNumber, issuer, subject };
}
