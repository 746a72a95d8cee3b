import type { KeyObject } from 'node:crypto';
import { OID } from '../asn1/oids.js';
import { policyProblem } from '../certificate-policy-tree.js';
import { CodedError } from '../errors.js';
import { checkName } from './name-constraints.js';
import { describePublicKey } from './public-key.js';
import { privateKeyUsagePeriod, type PrivateKeyUsagePeriod } from './private-key-usage-period.js';
import {
  displayName,
  KEY_USAGE_CERT_SIGN,
  KEY_USAGE_NAMES,
  keyUsageBitsSet,
  parseCertificate,
  type Certificate,
} from './certificate.js';

/**
 * Which start-up chain rule the chain breaks: Go's ten, then the two on the leaf's purpose and the
 * one on its private key usage period.
 */
export type ChainRuleCode =
  | 'NO_LEAF'
  | 'CHAIN_TOO_SHORT'
  | 'NO_SIGNER_KEY'
  | 'UNPARSABLE_CERTIFICATE'
  | 'NOT_A_CA'
  | 'LEAF_IS_A_CA'
  | 'EXTENDED_KEY_USAGE'
  | 'KEY_MISMATCH'
  | 'INVALID_CERTIFICATE'
  | 'UNKNOWN_AUTHORITY'
  | 'INCOMPATIBLE_KEY_USAGE'
  | 'PRIVATE_KEY_USAGE_PERIOD';

export class ChainRuleError extends CodedError<ChainRuleCode> {
  override name = 'ChainRuleError';
}

export interface ChainRuleOptions {
  /** --enforce-intermediate-eku: every intermediate must list timeStamping explicitly. */
  enforceIntermediateEku: boolean;
  now?: Date;
  /** Where the chain and the signer's key come from, named when the keys differ. */
  chainSource?: string;
  signerSource?: string;
}

/**
 * The Go server's start-up chain rules (pkg/x509 VerifyCertChain), in its order and with its
 * messages, then three of its own on the leaf (11 to 13), so that a chain Go refuses gets Go's
 * message. `chain` is DER, leaf first and root last, as read from --certificate-chain-path.
 */
export function verifyCertChain(
  chain: readonly Uint8Array[],
  signerPublicKey: KeyObject | undefined,
  options: ChainRuleOptions,
): void {
  // 1-3
  if (chain.length === 0)
    throw new ChainRuleError('NO_LEAF', 'certificate chain must contain a leaf certificate');
  if (chain.length < 2)
    throw new ChainRuleError(
      'CHAIN_TOO_SHORT',
      'certificate chain must contain at least two certificates',
    );
  if (!signerPublicKey) throw new ChainRuleError('NO_SIGNER_KEY', 'signer must not be nil');
  const certificates = chain.map((der, index) => {
    let certificate: Certificate;
    try {
      certificate = parseCertificate(der);
    } catch (error) {
      throw new ChainRuleError(
        'UNPARSABLE_CERTIFICATE',
        `certificate ${index} of the chain does not parse: ${(error as Error).message}`,
        { cause: error },
      );
    }
    validityOf(certificate, `certificate ${index} of the chain`);
    return certificate;
  });
  const leaf = certificates[0] as Certificate;
  const intermediates = certificates.slice(1, -1);
  const now = options.now ?? new Date();

  // 4-8
  checkChainStructure(certificates, now);
  // 9
  if (options.enforceIntermediateEku) {
    for (const intermediate of intermediates) {
      if (!intermediate.extKeyUsage.includes(OID.timeStamping)) {
        throw new ChainRuleError(
          'EXTENDED_KEY_USAGE',
          'certificate must have extended key usage timestamping set to sign timestamping certificates',
        );
      }
    }
  }
  // 10
  const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
  if (!spki(leaf.x509.publicKey).equals(spki(signerPublicKey))) {
    throw new ChainRuleError(
      'KEY_MISMATCH',
      keyMismatch(leaf.x509.publicKey, signerPublicKey, options),
    );
  }
  // 11-12, beyond Go, which starts with such a leaf and issues tokens that neither
  // `openssl ts -verify` nor `timestamp-cli verify` accepts.
  checkLeafPurpose(leaf);
  // 13, which Go's crypto/x509 does not read either.
  checkPrivateKeyUsagePeriod(leaf, now);
}

/**
 * Rules 4 to 8, on the chain's shape at `at`: the leaf chains up to the last certificate through
 * the others (Go's Verify with KeyUsages [TimeStamping], validity and CA constraints at `at`),
 * every certificate but the leaf is a CA, the leaf is not, and it has one EKU, critical.
 */
function checkChainStructure(certificates: readonly Certificate[], at: Date): void {
  const leaf = certificates[0] as Certificate;
  const root = certificates[certificates.length - 1] as Certificate;
  // 4: Go's leaf.Verify with Roots {last}, Intermediates certs[1:last], KeyUsages [TimeStamping].
  verifyLikeGo(leaf, certificates.slice(1, -1), root, at);
  // 5
  for (const certificate of certificates.slice(1)) {
    if (!certificate.isCA)
      throw new ChainRuleError('NOT_A_CA', 'certificate is not a CA certificate');
  }
  // 6
  if (leaf.isCA)
    throw new ChainRuleError(
      'LEAF_IS_A_CA',
      'leaf certificate must be an end-entity certificate, not a CA',
    );
  // 7
  if (leaf.extKeyUsage.length !== 1)
    throw new ChainRuleError('EXTENDED_KEY_USAGE', 'certificate should only contain one EKU');
  // 8
  if (
    !leaf.extensions.some((extension) => extension.oid === OID.extKeyUsage && extension.critical)
  ) {
    throw new ChainRuleError('EXTENDED_KEY_USAGE', 'certificate must set EKU to critical');
  }
}

/**
 * A previous chain (a retired key's, published in the trusted root so that its tokens still
 * verify): the served chain's rules that depend neither on the signer's key nor on now (the
 * retired leaf may have expired), so that the trusted root never lists a chain no verifier can
 * follow (reversed, a root alone, a CA as the leaf). Rules 4 to 8 hold at the latest notBefore
 * of its certificates, when all of them were first valid; 11 and 12 as for the served leaf; its
 * privateKeyUsagePeriod must be readable. Not rule 9 (--enforce-intermediate-eku), a serving
 * policy the retired chain may predate.
 */
export function verifyPreviousChain(certificates: readonly Certificate[]): void {
  if (certificates.length < 2)
    throw new ChainRuleError(
      'CHAIN_TOO_SHORT',
      'certificate chain must contain at least two certificates, leaf first',
    );
  const firstValid = Math.max(
    ...certificates.map((certificate, index) =>
      validityOf(certificate, `certificate ${index}`).notBefore.getTime(),
    ),
  );
  checkChainStructure(certificates, new Date(firstValid));
  const leaf = certificates[0] as Certificate;
  checkLeafPurpose(leaf);
  readablePrivateKeyUsagePeriod(leaf);
}

/** The leaf's privateKeyUsagePeriod, if any; one that does not parse stops the start. */
function readablePrivateKeyUsagePeriod(leaf: Certificate): PrivateKeyUsagePeriod | undefined {
  try {
    return privateKeyUsagePeriod(leaf);
  } catch (error) {
    throw new ChainRuleError(
      'INVALID_CERTIFICATE',
      `the TSA certificate's private key usage period cannot be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * A leaf whose privateKeyUsagePeriod (X.509 section 9.2.2.5) does not hold now: its key may not
 * sign, though its certificate is valid. While serving, the issuance guard refuses tokens outside
 * the period as outside the certificate's validity (runtime/authority.ts).
 */
function checkPrivateKeyUsagePeriod(leaf: Certificate, now: Date): void {
  const period = readablePrivateKeyUsagePeriod(leaf);
  if (period?.notBefore && now < period.notBefore)
    throw new ChainRuleError(
      'PRIVATE_KEY_USAGE_PERIOD',
      `the TSA certificate's private key usage period begins at ${rfc3339(period.notBefore)}, ` +
        `after the current time ${rfc3339(now)}: its key may not sign before then`,
    );
  if (period?.notAfter && now > period.notAfter)
    throw new ChainRuleError(
      'PRIVATE_KEY_USAGE_PERIOD',
      `the TSA certificate's private key usage period ended at ${rfc3339(period.notAfter)}, ` +
        `before the current time ${rfc3339(now)}: its key may sign no more (start with its successor's key and certificate)`,
    );
}

/** The keyUsage bits a TSA certificate may have (OpenSSL's check_purpose_timestamp_sign). */
const TSA_KEY_USAGE = 0b11; // digitalSignature, nonRepudiation

/**
 * The TSA certificate as RFC 3161 section 2.3 and `openssl ts -verify` (crypto/x509/v3_purp.c,
 * check_purpose_timestamp_sign) require it, past rules 7 and 8 (one EKU, critical): that one EKU
 * is id-kp-timeStamping itself, not anyExtendedKeyUsage (which Go's chain EKU check accepts); a
 * keyUsage, when present, allows digitalSignature and/or nonRepudiation and no other bit. A leaf
 * without keyUsage passes, as in OpenSSL.
 */
function checkLeafPurpose(leaf: Certificate): void {
  // 11
  const [eku] = leaf.extKeyUsage;
  if (eku !== OID.timeStamping) {
    const found = eku === OID.anyExtendedKeyUsage ? 'anyExtendedKeyUsage' : eku;
    throw new ChainRuleError(
      'EXTENDED_KEY_USAGE',
      `the TSA certificate's extended key usage must be id-kp-timeStamping (RFC 3161 section 2.3), not ${found}`,
    );
  }
  // 12
  const extension = leaf.extensions.find(({ oid }) => oid === OID.keyUsage);
  if (!extension) return;
  const { keyUsage } = leaf;
  // RFC 5280 names bits 0 to 8 only, and Go reads those, but OpenSSL reads two octets and refuses
  // a TSA certificate with any of bits 9 to 15 set (`unsuitable certificate purpose`).
  const unnamed = keyUsageBitsSet(extension.value).filter((bit) => bit >= KEY_USAGE_NAMES.length);
  if ((keyUsage & TSA_KEY_USAGE) !== 0 && (keyUsage & ~TSA_KEY_USAGE) === 0 && !unnamed.length)
    return;
  const names = [
    ...KEY_USAGE_NAMES.filter((_name, bit) => (keyUsage & (1 << bit)) !== 0),
    ...unnamed.map((bit) => `bit ${bit}`),
  ];
  throw new ChainRuleError(
    'INCOMPATIBLE_KEY_USAGE',
    `the TSA certificate's keyUsage allows ${names.length ? names.join(', ') : 'nothing'}: ` +
      'it must allow digitalSignature or nonRepudiation and nothing else, or be absent ' +
      '(openssl ts -verify refuses the tokens of any other: unsuitable certificate purpose)',
  );
}

/**
 * Go's "public keys are not equal", then which files hold which key: type, size and SPKI
 * fingerprint of each, so a mixed-up key or chain is found without openssl.
 */
export function keyMismatch(
  leafKey: KeyObject,
  signerKey: KeyObject,
  sources: Pick<ChainRuleOptions, 'chainSource' | 'signerSource'> = {},
): string {
  const leaf = sources.chainSource ? ` (${sources.chainSource})` : '';
  const signer = sources.signerSource ? ` (${sources.signerSource})` : '';
  return (
    `public keys are not equal: the leaf certificate's public key${leaf} is ${describePublicKey(leafKey)}, ` +
    `the signer's key${signer} is ${describePublicKey(signerKey)}`
  );
}

/** Extensions Go's crypto/x509 understands; any other critical one fails verification. */
const HANDLED_EXTENSIONS = new Set([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.nameConstraints,
  '2.5.29.31', // cRLDistributionPoints
  OID.certificatePolicies,
  OID.policyMappings,
  OID.authorityKeyIdentifier,
  OID.policyConstraints,
  OID.extKeyUsage,
  OID.inhibitAnyPolicy,
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
]);

/** Signature algorithms Go refuses in chains (x509.InsecureAlgorithmError). */
const INSECURE_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'MD5-RSA',
  '1.2.840.113549.1.1.5': 'SHA1-RSA',
  '1.2.840.10045.4.1': 'ECDSA-SHA1',
  '1.2.840.10040.4.3': 'DSA-SHA1',
};

/** The smallest RSA key a chain may sign with (the verifier's rule; Go refuses under 1024). */
const MIN_RSA_BITS = 2048;

/**
 * Why an RSA key's public exponent is refused, or undefined: the verifier's rule
 * (src/verify/algorithm-policy.ts, which imports nothing of the server), Go's crypto/rsa: odd, from
 * 3 to 2^31-1. Tokens under such a key would be refused by `timestamp-cli verify` and by Go.
 */
function rsaExponentProblem(key: KeyObject): string | undefined {
  const exponent = key.asymmetricKeyDetails?.publicExponent;
  if (exponent === undefined) return undefined; // not an RSA key
  if (exponent < 3n || exponent > 2n ** 31n - 1n || exponent % 2n === 0n) {
    return `RSA public exponent ${exponent} (must be odd, from 3 to 2^31-1)`;
  }
  return undefined;
}

type CertificateKind = 'leaf' | 'intermediate' | 'root';

/**
 * crypto/x509 Certificate.Verify, reduced to what a TSA chain exercises: build every chain from
 * the leaf through the intermediates (any order) to the root, checking each link's signature and
 * constraints and each certificate's validity, then keep the chains whose EKUs allow timeStamping.
 * Name constraints are checked against DNS, email, URI and IP subjectAltNames, as Go does, and
 * certificate policies as Go ≥ 1.22 processes them (src/certificate-policy-tree.ts).
 */
function verifyLikeGo(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  root: Certificate,
  now: Date,
): void {
  const leafProblem =
    checkCertificate(leaf, 'leaf', [], now) ?? leafKeyProblem(leaf.x509.publicKey);
  if (leafProblem) throw new ChainRuleError('INVALID_CERTIFICATE', leafProblem);
  const chains: Certificate[][] = [];
  let hint: { error: string; certificate: Certificate } | undefined;

  if (leaf.der.equals(root.der)) {
    chains.push([leaf]);
  } else {
    const extend = (chain: Certificate[]): void => {
      const current = chain[chain.length - 1] as Certificate;
      const candidates: [Certificate, CertificateKind][] = [
        [root, 'root'],
        ...intermediates.map((intermediate): [Certificate, CertificateKind] => [
          intermediate,
          'intermediate',
        ]),
      ];
      for (const [candidate, kind] of candidates) {
        if (!candidate.subject.equals(current.issuer)) continue;
        if (chain.some((link) => link.der.equals(candidate.der))) continue;
        const problem =
          checkSignatureFrom(current, candidate) ?? checkCertificate(candidate, kind, chain, now);
        if (problem) {
          hint ??= { error: problem, certificate: candidate };
          continue;
        }
        if (kind === 'root') chains.push([...chain, candidate]);
        else if (chain.length < 10) extend([...chain, candidate]);
      }
    };
    extend([leaf]);
  }

  if (chains.length === 0) {
    let message = 'x509: certificate signed by unknown authority';
    if (hint) {
      message += ` (possibly because of ${JSON.stringify(hint.error)} while trying to verify candidate authority certificate ${JSON.stringify(displayName(hint.certificate))})`;
    }
    throw new ChainRuleError('UNKNOWN_AUTHORITY', message);
  }
  // Go ≥ 1.22 keeps only the chains whose policies hold (RFC 9618), before their key usages.
  const policyProblems = chains.map((chain) =>
    policyProblem(
      chain.map(({ policyExtensions, subject, issuer }) => ({
        policyExtensions,
        subjectDer: subject,
        issuerDer: issuer,
      })),
    ),
  );
  const validChains = chains.filter((_, index) => policyProblems[index] === undefined);
  if (validChains.length === 0)
    throw new ChainRuleError('INVALID_CERTIFICATE', policyProblems[0] as string);
  if (!validChains.some(allowsTimeStamping)) {
    throw new ChainRuleError(
      'INCOMPATIBLE_KEY_USAGE',
      'x509: certificate specifies an incompatible key usage',
    );
  }
}

/** The leaf's key is the one tokens are verified with: the verifier's rules for it. */
function leafKeyProblem(key: KeyObject): string | undefined {
  const exponent = rsaExponentProblem(key);
  return exponent && `the leaf certificate's ${exponent}: tokens signed with it would not verify`;
}

/**
 * notBefore and notAfter as Node reads them. OpenSSL prints "Bad time value" for a time it cannot
 * read (a five-digit year, a UTCTime of "NaN"s), a certificate Go's crypto/x509 refuses to parse:
 * refused here too, as an Invalid Date compares false both ways and would pass as valid forever.
 */
export function validityOf(
  certificate: Certificate,
  which: string,
): { notBefore: Date; notAfter: Date } {
  const { validFrom, validTo } = certificate.x509;
  const notBefore = new Date(validFrom);
  const notAfter = new Date(validTo);
  for (const [field, date, text] of [
    ['notBefore', notBefore, validFrom],
    ['notAfter', notAfter, validTo],
  ] as const) {
    if (Number.isNaN(date.getTime())) {
      throw new ChainRuleError(
        'INVALID_CERTIFICATE',
        `${which} ${JSON.stringify(displayName(certificate))} has a ${field} that cannot be read ` +
          `(${JSON.stringify(text)}: a year past 9999 or a malformed time); Go's crypto/x509 ` +
          'refuses to parse such a certificate, and openssl ts -verify refuses its tokens',
      );
    }
  }
  return { notBefore, notAfter };
}

/** Go's isValid: validity at `now`, CA constraints and path length for issuers. */
function checkCertificate(
  certificate: Certificate,
  kind: CertificateKind,
  chainSoFar: readonly Certificate[],
  now: Date,
): string | undefined {
  const critical = certificate.extensions.find(
    (extension) =>
      extension.critical &&
      (!HANDLED_EXTENSIONS.has(extension.oid) ||
        (extension.oid === OID.nameConstraints && certificate.nameConstraints?.hasUnsupportedForm)),
  );
  if (critical) return `x509: unhandled critical extension (${critical.oid})`;
  const { notBefore, notAfter } = validityOf(certificate, 'certificate');
  if (now < notBefore) {
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(notBefore)}`;
  }
  if (now > notAfter) {
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(notAfter)}`;
  }
  if (kind === 'intermediate' && (!certificate.basicConstraintsValid || !certificate.isCA)) {
    return 'x509: certificate is not authorized to sign other certificates';
  }
  if (kind !== 'leaf' && certificate.nameConstraints) {
    for (const below of chainSoFar) {
      for (const name of below.subjectAltNames ?? []) {
        const violation = checkName(name, certificate.nameConstraints);
        if (violation) return violation;
      }
    }
  }
  if (kind !== 'leaf' && certificate.basicConstraintsValid && certificate.maxPathLen >= 0) {
    const intermediatesBelow = chainSoFar.length - 1;
    if (intermediatesBelow > certificate.maxPathLen)
      return 'x509: too many intermediates for path length constraint';
  }
  return undefined;
}

/** Go's CheckSignatureFrom: the parent may sign certificates, and its signature verifies. */
function checkSignatureFrom(child: Certificate, parent: Certificate): string | undefined {
  if (
    (parent.version === 3 && !parent.basicConstraintsValid) ||
    (parent.basicConstraintsValid && !parent.isCA)
  ) {
    return 'x509: invalid signature: parent certificate cannot sign this kind of certificate';
  }
  if (parent.keyUsage !== 0 && (parent.keyUsage & KEY_USAGE_CERT_SIGN) === 0) {
    return 'x509: invalid signature: parent certificate cannot sign this kind of certificate';
  }
  const insecure = INSECURE_SIGNATURES[child.signatureAlgorithm];
  if (insecure) return `x509: cannot verify signature: insecure algorithm ${insecure}`;
  // The verifier (src/verify/algorithm-policy.ts) refuses tokens under such a chain: refuse it here.
  const { modulusLength } = parent.x509.publicKey.asymmetricKeyDetails ?? {};
  if (modulusLength !== undefined && modulusLength < MIN_RSA_BITS) {
    return `x509: cannot verify signature: the issuer's RSA key has ${modulusLength} bits, fewer than ${MIN_RSA_BITS}`;
  }
  const exponent = rsaExponentProblem(parent.x509.publicKey);
  if (exponent) return `x509: cannot verify signature: the issuer's ${exponent}`;
  let valid: boolean;
  try {
    valid = child.x509.verify(parent.x509.publicKey);
  } catch {
    valid = false;
  }
  return valid ? undefined : 'x509: signature verification failure';
}

/** Go's checkChainForKeyUsage for [TimeStamping]: no EKU or anyEKU passes, else TS must be listed. */
function allowsTimeStamping(chain: readonly Certificate[]): boolean {
  return chain.every(
    ({ extKeyUsage }) =>
      extKeyUsage.length === 0 ||
      extKeyUsage.includes(OID.anyExtendedKeyUsage) ||
      extKeyUsage.includes(OID.timeStamping),
  );
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
