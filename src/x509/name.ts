import { oid, sequence, set, Tag, tlv } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { X509Error } from './x509-error.js';

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
  // X.520 DirectoryString is SIZE (1..ub): an empty value is not one (Go's pkix.Name omits it).
  if (value === '')
    throw new X509Error('INVALID_NAME', `empty ${attributeOid} attribute in a name`);
  return set(sequence(oid(attributeOid), directoryString(value)));
}

/** DER `Name` (RDNSequence), one attribute per RDN; at least one, each non-empty. */
export function encodeName(name: NameAttributes): Buffer {
  const rdns: Buffer[] = [];
  if (name.country !== undefined) rdns.push(rdn(OID.countryName, name.country));
  if (name.organization !== undefined) rdns.push(rdn(OID.organizationName, name.organization));
  if (name.organizationalUnit !== undefined) {
    rdns.push(rdn(OID.organizationalUnitName, name.organizationalUnit));
  }
  if (name.commonName !== undefined) rdns.push(rdn(OID.commonName, name.commonName));
  // An empty subject needs a critical subjectAltName (RFC 5280 4.1.2.6), which we never write.
  if (rdns.length === 0) throw new X509Error('INVALID_NAME', 'a name needs at least one attribute');
  return sequence(...rdns);
}
