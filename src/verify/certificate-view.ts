import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { readNode } from './der-node.js';
import { VERIFY_OID } from './oids.js';
import { DecodeError } from './errors.js';
import { RecentByBytes } from './recent.js';
import { NO_POLICY_EXTENSIONS, type PolicyExtensions } from '../certificate-policy-tree.js';
import { withPolicyExtension } from './certificate-policies.js';
import { readNameConstraints, type NameConstraints } from './name-constraints.js';

/** What the verifier needs to know about one certificate, read with PKI.js and Node. */
export interface CertificateView {
  der: Buffer;
  x509: X509Certificate;
  /** DER of the subject and issuer Names, exactly as in the certificate. */
  subjectDer: Buffer;
  issuerDer: Buffer;
  serialNumber: bigint;
  notBefore: Date;
  notAfter: Date;
  /** The issuer's signature algorithm on this certificate (RFC 5280 section 4.1.1.2). */
  signatureAlgorithm: pkijs.AlgorithmIdentifier;
  subjectCommonName: string | undefined;
  /** The X.509 version, as Go's Certificate.Version: 1, 2 or 3. */
  version: number;
  /** basicConstraints cA; false when the extension is absent. */
  isCA: boolean;
  pathLenConstraint: number | undefined;
  /** KeyUsage bit names, or undefined when the extension is absent. */
  keyUsage: Set<string> | undefined;
  /** Extended key usages (dotted OIDs), or undefined when the extension is absent. */
  extendedKeyUsage: { purposes: string[]; critical: boolean } | undefined;
  /** OIDs of critical extensions this verifier does not process. */
  unhandledCriticalExtensions: string[];
  /** The subjectAltName's GeneralNames, each as its DER; empty without the extension. */
  subjectAltNames: Buffer[];
  /**
   * The privateKeyUsagePeriod's value (extnValue's contents), undefined without the extension:
   * read, for the TSA certificate only, by leaf-checks.ts.
   */
  privateKeyUsagePeriodDer: Buffer | undefined;
  /** The nameConstraints extension, read (frozen); undefined without it. */
  nameConstraints: NameConstraints | undefined;
  /** The certificatePolicies, policyMappings, policyConstraints and inhibitAnyPolicy, read (frozen). */
  policyExtensions: PolicyExtensions;
  /**
   * The subject's EC key gives its curve as explicit parameters, not by name: RFC 5480 section
   * 2.1.1 forbids it, Go and `openssl ts -verify` refuse it, and Node reads it (and names the curve).
   */
  curveSpecified: boolean;
}

const HANDLED_EXTENSIONS = new Set<string>([
  VERIFY_OID.subjectKeyIdentifier,
  VERIFY_OID.authorityKeyIdentifier,
  VERIFY_OID.keyUsage,
  VERIFY_OID.extKeyUsage,
  VERIFY_OID.basicConstraints,
  VERIFY_OID.subjectAltName,
  VERIFY_OID.certificatePolicies,
  VERIFY_OID.policyMappings,
  VERIFY_OID.policyConstraints,
  VERIFY_OID.inhibitAnyPolicy,
  VERIFY_OID.crlDistributionPoints,
  VERIFY_OID.authorityInfoAccess,
]);

const KEY_USAGE_BITS = [
  'digitalSignature',
  'contentCommitment',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/**
 * The views of the certificates parsed last, by their DER: a batch of tokens (an audit of a log, a
 * verifier's chain) embeds or names the same few certificates again and again, and parsing one
 * (Node, asn1js and PKI.js) costs more than a token's signature check. A view is a function of the
 * DER alone, so a kept one is what parsing again would give; each caller gets its own copy
 * (copyView), so that a caller changing its view cannot change another's. Bounded: the oldest
 * goes first.
 */
const recentViews = new RecentByBytes<CertificateView>(32);

/** Parses one DER certificate; throws (Node's error or a DecodeError) on anything that is not one. */
export function viewCertificate(der: Uint8Array): CertificateView {
  return copyView(recentViews.get(der, () => parseView(der)));
}

/**
 * A copy of a view that shares nothing mutable with it but the X509Certificate (immutable) and the
 * PKI.js AlgorithmIdentifier (read only here).
 */
function copyView(view: CertificateView): CertificateView {
  return {
    ...view,
    der: Buffer.from(view.der),
    subjectDer: Buffer.from(view.subjectDer),
    issuerDer: Buffer.from(view.issuerDer),
    notBefore: new Date(view.notBefore),
    notAfter: new Date(view.notAfter),
    keyUsage: view.keyUsage && new Set(view.keyUsage),
    extendedKeyUsage: view.extendedKeyUsage && {
      purposes: [...view.extendedKeyUsage.purposes],
      critical: view.extendedKeyUsage.critical,
    },
    unhandledCriticalExtensions: [...view.unhandledCriticalExtensions],
    subjectAltNames: view.subjectAltNames.map((name) => Buffer.from(name)),
    privateKeyUsagePeriodDer:
      view.privateKeyUsagePeriodDer && Buffer.from(view.privateKeyUsagePeriodDer),
    // nameConstraints and policyExtensions are frozen: shared.
  };
}

function parseView(der: Uint8Array): CertificateView {
  const buffer = Buffer.from(der);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(buffer);
  } catch (error) {
    // OpenSSL tries PEM after DER fails, and reports that ("PEM routines::no start line").
    throw new DecodeError('unexpected-type', 'not an X.509 certificate', { cause: error });
  }
  const parsed = asn1js.fromBER(buffer);
  if (parsed.offset === -1 || parsed.offset !== buffer.length)
    throw new DecodeError('not-der', 'certificate is not DER');
  const certificate = new pkijs.Certificate({ schema: parsed.result });
  const keyAlgorithm = certificate.subjectPublicKeyInfo.algorithm;

  const view: CertificateView = {
    der: buffer,
    x509,
    subjectDer: Buffer.from(certificate.subject.valueBeforeDecode),
    issuerDer: Buffer.from(certificate.issuer.valueBeforeDecode),
    serialNumber: certificate.serialNumber.toBigInt(),
    notBefore: certificate.notBefore.value,
    notAfter: certificate.notAfter.value,
    signatureAlgorithm: certificate.signatureAlgorithm,
    subjectCommonName: commonNameOf(certificate.subject),
    version: certificate.version + 1,
    isCA: false,
    pathLenConstraint: undefined,
    keyUsage: undefined,
    extendedKeyUsage: undefined,
    unhandledCriticalExtensions: [],
    subjectAltNames: [],
    privateKeyUsagePeriodDer: undefined,
    nameConstraints: undefined,
    policyExtensions: NO_POLICY_EXTENSIONS,
    curveSpecified:
      keyAlgorithm.algorithmId === VERIFY_OID.ecPublicKey &&
      !(keyAlgorithm.algorithmParams instanceof asn1js.ObjectIdentifier),
  };
  // RFC 5280 section 4.2: each extension at most once (Go's parser refuses a second; OpenSSL, of
  // the extensions it reads).
  const seen = new Set<string>();
  for (const extension of certificate.extensions ?? []) {
    if (seen.has(extension.extnID))
      throw new DecodeError(
        'unexpected-type',
        `certificate has extension ${extension.extnID} twice (RFC 5280 section 4.2)`,
      );
    seen.add(extension.extnID);
    const value = asn1js.fromBER(extension.extnValue.getValue()).result;
    const extnValue = Buffer.from(extension.extnValue.getValue());
    switch (extension.extnID) {
      case VERIFY_OID.subjectAltName:
        // GeneralNames ::= SEQUENCE OF GeneralName
        view.subjectAltNames = readNode(Buffer.from(extension.extnValue.getValue())).children.map(
          (name) => Buffer.from(name.der),
        );
        break;
      case VERIFY_OID.basicConstraints: {
        const constraints = new pkijs.BasicConstraints({ schema: value });
        view.isCA = constraints.cA;
        if (constraints.pathLenConstraint !== undefined) {
          const pathLen = constraints.pathLenConstraint;
          view.pathLenConstraint =
            typeof pathLen === 'number' ? pathLen : pathLen.valueBlock.valueDec;
        }
        break;
      }
      case VERIFY_OID.keyUsage:
        view.keyUsage = keyUsageBits(value);
        break;
      case VERIFY_OID.extKeyUsage:
        view.extendedKeyUsage = {
          purposes: new pkijs.ExtKeyUsage({ schema: value }).keyPurposes,
          critical: extension.critical,
        };
        break;
      case VERIFY_OID.nameConstraints:
        view.nameConstraints = readNameConstraints(extnValue);
        // A subtree of a form not checked here leaves a critical extension unhandled, as in Go.
        if (extension.critical && view.nameConstraints.hasUnsupportedForm)
          view.unhandledCriticalExtensions.push(extension.extnID);
        break;
      case VERIFY_OID.certificatePolicies:
      case VERIFY_OID.policyMappings:
      case VERIFY_OID.policyConstraints:
      case VERIFY_OID.inhibitAnyPolicy:
        view.policyExtensions = withPolicyExtension(
          view.policyExtensions,
          extension.extnID,
          extnValue,
        );
        break;
      case VERIFY_OID.privateKeyUsagePeriod:
        view.privateKeyUsagePeriodDer = Buffer.from(extension.extnValue.getValue());
        // RFC 3280 has it non-critical; a critical one stays unhandled, as in Go and OpenSSL.
        if (extension.critical) view.unhandledCriticalExtensions.push(extension.extnID);
        break;
      default:
        if (extension.critical && !HANDLED_EXTENSIONS.has(extension.extnID)) {
          view.unhandledCriticalExtensions.push(extension.extnID);
        }
    }
  }
  return view;
}

/**
 * The keyUsage bits set, by name; bits 9 to 15, which RFC 5280 does not name, as `bit 9` ...:
 * OpenSSL reads two octets, and its time-stamp purpose check refuses a TSA certificate with any
 * of them (Go reads bits 0 to 8).
 */
function keyUsageBits(value: asn1js.AsnType): Set<string> {
  if (!(value instanceof asn1js.BitString))
    throw new DecodeError('unexpected-type', 'keyUsage is not a BIT STRING');
  const bytes = new Uint8Array(value.valueBlock.valueHexView);
  const names = new Set<string>();
  for (let bit = 0; bit < 16; bit++) {
    const byte = bytes[bit >> 3] ?? 0;
    if (byte & (0x80 >> (bit & 7))) names.add(KEY_USAGE_BITS[bit] ?? `bit ${bit}`);
  }
  return names;
}

/** The commonName of a Name; the last one when several, as Go's pkix.Name. */
export function commonNameOf(name: pkijs.RelativeDistinguishedNames): string | undefined {
  let commonName: string | undefined;
  for (const attribute of name.typesAndValues) {
    if (attribute.type === VERIFY_OID.commonName)
      commonName = String(attribute.value.valueBlock.value);
  }
  return commonName;
}

/** A Name as RFC 4514-like text in certificate order, e.g. "O=local, CN=Test TSA Root". */
export function nameToString(name: pkijs.RelativeDistinguishedNames): string {
  const short: Record<string, string> = {
    '2.5.4.3': 'CN',
    '2.5.4.6': 'C',
    '2.5.4.7': 'L',
    '2.5.4.8': 'ST',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    '2.5.4.5': 'SERIALNUMBER',
  };
  return name.typesAndValues
    .map(
      (attribute) =>
        `${short[attribute.type] ?? attribute.type}=${String(attribute.value.valueBlock.value)}`,
    )
    .join(', ');
}

/** The subject of a certificate as text (from Node: one attribute per line, joined). */
export function subjectText(certificate: CertificateView): string {
  return certificate.x509.subject.split('\n').join(', ');
}
