import { oid, sequence, set, Tag, tlv } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';

/** The subject attributes we write, in the order Go's pkix.Name emits them. */
export interface NameAttributes {
  country?: string;
  organization?: string;
  organizationalUnit?: string;
  commonName?: string;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** PrintableString when the text allows it (as Go does), else UTF8String. */
function directoryString(text: string): Buffer {
  return PRINTABLE.test(text)
    ? tlv(Tag.PRINTABLE_STRING, Buffer.from(text, 'latin1'))
    : tlv(Tag.UTF8_STRING, Buffer.from(text, 'utf8'));
}

function rdn(attributeOid: string, value: string): Buffer {
  return set(sequence(oid(attributeOid), directoryString(value)));
}

/** DER `Name` (RDNSequence), one attribute per RDN. */
export function encodeName(name: NameAttributes): Buffer {
  const rdns: Buffer[] = [];
  if (name.country !== undefined) rdns.push(rdn(OID.countryName, name.country));
  if (name.organization !== undefined) rdns.push(rdn(OID.organizationName, name.organization));
  if (name.organizationalUnit !== undefined) {
    rdns.push(rdn(OID.organizationalUnitName, name.organizationalUnit));
  }
  if (name.commonName !== undefined) rdns.push(rdn(OID.commonName, name.commonName));
  return sequence(...rdns);
}
