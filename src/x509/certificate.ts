import { X509Certificate } from 'node:crypto';
import {
  contextTag,
  DerSequenceReader,
  integerToBigInt,
  oidToString,
  readBoolean,
  readElement,
  readExactly,
  Tag,
} from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { NO_POLICY_EXTENSIONS, type PolicyExtensions } from '../certificate-policy-tree.js';
import { withPolicyExtension } from './certificate-policies.js';
import {
  parseNameConstraints,
  parseSubjectAltNames,
  type NameConstraints,
  type SubjectAltName,
} from './name-constraints.js';
import { hasSpecifiedCurve } from './public-key.js';
import { X509Error } from './x509-error.js';

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

/**
 * The one certificate model of the project: Node's parsed view, the raw DER pieces a TSA copies
 * into its tokens (serial number, issuer and subject names), and what the start-up chain rules
 * need, read from the DER the way Go's crypto/x509 parser reads it (raw names compared byte for
 * byte, EKU OIDs in order).
 */
export interface Certificate {
  der: Buffer;
  x509: X509Certificate;
  /** The whole serialNumber INTEGER TLV. */
  serialNumber: Buffer;
  /** The whole issuer Name TLV. */
  issuer: Buffer;
  /** The whole subject Name TLV. */
  subject: Buffer;
  version: number;
  signatureAlgorithm: string;
  extensions: Extension[];
  basicConstraintsValid: boolean;
  isCA: boolean;
  /** pathLenConstraint, or -1 when absent (Go's MaxPathLen). */
  maxPathLen: number;
  /** KeyUsage bits as Go numbers them (digitalSignature = 1 << 0), 0 when absent. */
  keyUsage: number;
  /** The extKeyUsage OIDs, in order; empty when the extension is absent. */
  extKeyUsage: string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  /** DNS, email, URI and IP subjectAltNames; undefined without the extension. */
  subjectAltNames?: SubjectAltName[];
  nameConstraints?: NameConstraints;
  /** certificatePolicies, policyMappings, policyConstraints and inhibitAnyPolicy, read. */
  policyExtensions: PolicyExtensions;
}

/** Parses a DER certificate, keeping its raw fields. Throws on malformed input. */
export function parseCertificate(der: Uint8Array): Certificate {
  const buffer = Buffer.from(der);
  const certificate = new DerSequenceReader(readExactly(buffer, Tag.SEQUENCE).value);
  const tbs = new DerSequenceReader(certificate.next(Tag.SEQUENCE).value);
  const signatureAlgorithm = new DerSequenceReader(certificate.next(Tag.SEQUENCE).value);
  const versionElement = tbs.optional(contextTag(0, true));
  const version = versionElement
    ? Number(integerToBigInt(readExactly(versionElement.value, Tag.INTEGER).value)) + 1
    : 1;
  const serialNumber = Buffer.from(tbs.next(Tag.INTEGER).bytes);
  tbs.next(Tag.SEQUENCE); // signature algorithm
  const issuer = Buffer.from(tbs.next(Tag.SEQUENCE).bytes);
  tbs.next(Tag.SEQUENCE);
  const subject = Buffer.from(tbs.next(Tag.SEQUENCE).bytes);
  if (hasSpecifiedCurve(tbs.next(Tag.SEQUENCE).bytes)) {
    throw new X509Error(
      'INVALID_PUBLIC_KEY',
      'x509: invalid ECDSA parameters: the public key does not name its curve (explicit parameters, or none), ' +
        'where RFC 5480 section 2.1.1 allows a named curve only (issue the certificate for a key ' +
        'written with `openssl ec -param_enc named_curve`)',
    );
  }
  tbs.optional(0x81); // issuerUniqueID
  tbs.optional(0x82); // subjectUniqueID
  const extensionsElement = tbs.optional(contextTag(3, true));
  const extensions = extensionsElement ? readExtensions(extensionsElement.value) : [];

  const facts: Certificate = {
    der: buffer,
    x509: new X509Certificate(buffer),
    serialNumber,
    issuer,
    subject,
    version,
    signatureAlgorithm: oidToString(signatureAlgorithm.next(Tag.OID).value),
    extensions,
    basicConstraintsValid: false,
    isCA: false,
    maxPathLen: -1,
    keyUsage: 0,
    extKeyUsage: [],
    policyExtensions: NO_POLICY_EXTENSIONS,
  };
  for (const extension of extensions) {
    const value = readElement(extension.value);
    switch (extension.oid) {
      case OID.basicConstraints: {
        const reader = new DerSequenceReader(value.value);
        facts.basicConstraintsValid = true;
        const cA = reader.optional(Tag.BOOLEAN);
        facts.isCA = cA ? readBoolean(cA) : false;
        const pathLen = reader.optional(Tag.INTEGER);
        if (pathLen) facts.maxPathLen = Number(integerToBigInt(pathLen.value));
        break;
      }
      case OID.keyUsage:
        // Go reads the nine bits RFC 5280 names.
        for (const bit of keyUsageBitsSet(extension.value))
          if (bit < KEY_USAGE_NAMES.length) facts.keyUsage |= 1 << bit;
        break;
      case OID.extKeyUsage: {
        const reader = new DerSequenceReader(value.value);
        while (!reader.done) facts.extKeyUsage.push(oidToString(reader.next(Tag.OID).value));
        break;
      }
      case OID.subjectKeyIdentifier:
        facts.subjectKeyId = Buffer.from(value.value);
        break;
      case OID.subjectAltName:
        facts.subjectAltNames = parseSubjectAltNames(extension.value);
        break;
      case OID.nameConstraints:
        facts.nameConstraints = parseNameConstraints(extension.value);
        break;
      case OID.authorityKeyIdentifier: {
        const keyIdentifier = new DerSequenceReader(value.value).optional(0x80);
        if (keyIdentifier) facts.authorityKeyId = Buffer.from(keyIdentifier.value);
        break;
      }
      default:
        facts.policyExtensions = withPolicyExtension(
          facts.policyExtensions,
          extension.oid,
          extension.value,
        );
    }
  }
  return facts;
}

/**
 * The extensions, each at most once (RFC 5280 section 4.2: "MUST NOT include more than one
 * instance of a particular extension"): Go's parser refuses a second one ("certificate contains
 * duplicate extensions"), OpenSSL's verification a second one of those it reads (EKU, keyUsage...);
 * read by the first or the last, two privateKeyUsagePeriods would say different things to
 * different readers.
 */
function readExtensions(content: Uint8Array): Extension[] {
  const list = new DerSequenceReader(readExactly(content, Tag.SEQUENCE).value);
  const extensions: Extension[] = [];
  while (!list.done) {
    const reader = new DerSequenceReader(list.next(Tag.SEQUENCE).value);
    const oid = oidToString(reader.next(Tag.OID).value);
    if (extensions.some((extension) => extension.oid === oid))
      throw new X509Error('INVALID_EXTENSION', `the certificate has extension ${oid} twice`);
    const criticalElement = reader.optional(Tag.BOOLEAN);
    const critical = criticalElement ? readBoolean(criticalElement) : false;
    extensions.push({ oid, critical, value: reader.next(Tag.OCTET_STRING).value });
  }
  return extensions;
}

/**
 * The bits set among the first sixteen of a keyUsage extension's value (a BIT STRING: bit 0 is
 * the most significant bit of the first content octet). Sixteen, as OpenSSL reads two octets.
 */
export function keyUsageBitsSet(value: Uint8Array): number[] {
  const octets = readElement(value).value.subarray(1);
  const set: number[] = [];
  for (let bit = 0; bit < 16 && bit < octets.length * 8; bit++)
    if (((octets[bit >> 3] as number) & (0x80 >> (bit & 7))) !== 0) set.push(bit);
  return set;
}

/** KeyUsage bit for keyCertSign, numbered as Go's x509.KeyUsageCertSign. */
export const KEY_USAGE_CERT_SIGN = 1 << 5;

/**
 * The KeyUsage bits' names (RFC 5280 section 4.2.1.3, bit 1 by its openssl name), indexed as
 * {@link Certificate.keyUsage} numbers them.
 */
export const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

/** The first CN of a certificate's subject, else O, else the serial (as Go names certificates). */
export function displayName(facts: Certificate): string {
  const attribute = (name: string) =>
    facts.x509.subject
      .split('\n')
      .find((line) => line.startsWith(`${name}=`))
      ?.slice(name.length + 1);
  return (
    attribute('CN') ||
    attribute('O') ||
    `serial:${BigInt(`0x${facts.x509.serialNumber}`).toString()}`
  );
}
