import {
  bitString,
  contextTag,
  DerSequenceReader,
  oidToString,
  readElement,
  readExactly,
  sequence,
  Tag,
  tlv,
} from '../../src/asn1/der.js';

/**
 * `certificate` with its extension `oid` written twice (RFC 5280 section 4.2 forbids it), signed
 * again by its issuer's `sign` (with the certificate's signature algorithm), so that only the
 * repeated extension is wrong with it.
 */
export async function withExtensionTwice(
  certificate: Uint8Array,
  oid: string,
  sign: (tbsCertificate: Buffer) => Promise<Uint8Array>,
): Promise<Buffer> {
  const outer = new DerSequenceReader(readExactly(certificate, Tag.SEQUENCE).value);
  const tbs = new DerSequenceReader(outer.next(Tag.SEQUENCE).value);
  const signatureAlgorithm = outer.next(Tag.SEQUENCE).bytes;
  const fields: Uint8Array[] = [];
  while (!tbs.done) fields.push(tbs.next().bytes);
  const explicit = readExactly(fields.at(-1)!, contextTag(3, true));
  const list = new DerSequenceReader(readExactly(explicit.value, Tag.SEQUENCE).value);
  const extensions: Uint8Array[] = [];
  let repeated = false;
  while (!list.done) {
    const extension = list.next(Tag.SEQUENCE).bytes;
    extensions.push(extension);
    const extnID = readElement(readExactly(extension, Tag.SEQUENCE).value);
    if (oidToString(extnID.value) !== oid) continue;
    extensions.push(extension);
    repeated = true;
  }
  if (!repeated) throw new Error(`the certificate has no extension ${oid} to repeat`);
  fields[fields.length - 1] = tlv(contextTag(3, true), sequence(...extensions));
  const signed = sequence(...fields);
  return sequence(signed, signatureAlgorithm, bitString(await sign(signed)));
}
