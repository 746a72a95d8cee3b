import { certificateKeyProblem, certificateSignatureProblem } from './algorithm-policy.js';
import { subjectText, type CertificateView } from './certificate-view.js';
import { VERIFY_OID } from './oids.js';
import { nameConstraintsProblem } from './name-constraints.js';
import { policyProblem } from '../certificate-policy-tree.js';

/** Longest path tried, leaf to root. */
const MAX_PATH_LENGTH = 8;
/**
 * Most candidate paths examined. Certificates sharing a name and key multiply the paths (k per
 * level gives k^depth); a token carrying such a lattice must not make the verifier hang.
 */
const MAX_PATHS_EXAMINED = 256;

export interface ChainOptions {
  intermediates: readonly CertificateView[];
  roots: readonly CertificateView[];
  /** The instant every certificate must be valid at: the token's genTime by default. */
  at: Date;
}

/** The outcome of path building: the chains that verified, or why none did. */
export interface ChainResult {
  /** Chains (leaf first, root last) whose signatures, validity and CA rules hold. */
  chains: CertificateView[][];
  /** Of those, the chains whose issuers allow time-stamping (no EKU, timeStamping or anyEKU). */
  timestampingChains: CertificateView[][];
  /** The first reason a candidate path failed, when none verified. */
  failure: string | undefined;
}

/**
 * Builds and checks every certification path from `leaf` to one of `roots` (RFC 5280 section 6,
 * the parts Go's x509.Verify applies): issuer name and signature, validity at `at`, CA and
 * keyCertSign for issuers, pathLenConstraint, name constraints (of the names below each CA),
 * certificate policies (those a path's own certificates require), no unhandled critical
 * extension; every key (the root's included) RSA of 2048 bits or more with an exponent Go
 * accepts, P-256/384/521 or Ed25519, checked before the key verifies anything; every link signed
 * with SHA-2 or Ed25519 (no MD5, SHA-1). Roots are trust anchors: a path ends at a certificate
 * byte-identical to a provided root, and the root's own self-signature is not checked (as Go).
 */
export function buildChains(leaf: CertificateView, options: ChainOptions): ChainResult {
  // Trust anchors first, then the caller's intermediates, then the token's: an honest path is
  // found before any budget spent on a hostile certificate set.
  const pool = dedupe([...options.roots, ...options.intermediates]);
  const isRoot = (certificate: CertificateView) =>
    options.roots.some((root) => root.der.equals(certificate.der));
  const result: ChainResult = { chains: [], timestampingChains: [], failure: undefined };
  const fail = (reason: string) => {
    result.failure ??= reason;
  };

  let examined = 0;
  const extend = (path: CertificateView[]): void => {
    if (examined === MAX_PATHS_EXAMINED) return;
    if (++examined === MAX_PATHS_EXAMINED) {
      result.failure = `x509: gave up after ${MAX_PATHS_EXAMINED} candidate certificate paths`;
      return;
    }
    const current = path[path.length - 1] as CertificateView;
    const problem =
      validityProblem(current, options.at) ??
      criticalExtensionProblem(current) ??
      weakKeyProblem(current);
    if (problem) return fail(problem);
    const root = isRoot(current);
    if (path.length > 1) {
      const caProblem =
        issuerProblem(current, path.length - 2, root) ??
        (current.nameConstraints &&
          nameConstraintsProblem(current.nameConstraints, path.slice(0, -1)));
      if (caProblem) return fail(caProblem);
    }
    if (root) {
      const policiesProblem = policyProblem(path);
      if (policiesProblem) return fail(policiesProblem);
      result.chains.push(path);
      if (path.slice(1).every(allowsTimestamping)) result.timestampingChains.push(path);
      return;
    }
    if (path.length >= MAX_PATH_LENGTH) return fail('certificate chain is too long');
    const issuers = pool.filter(
      (candidate) =>
        !path.some((member) => member.der.equals(candidate.der)) &&
        current.x509.checkIssued(candidate.x509),
    );
    if (issuers.length === 0) {
      // Node's checkIssued (OpenSSL's X509_check_issued) also passes over an issuer whose keyUsage
      // lacks keyCertSign: name that one rather than an unknown authority.
      // Not one on the path: a self-signed TSA certificate is its own issuer by name.
      const unfit = pool.find(
        (candidate) =>
          !path.some((member) => member.der.equals(candidate.der)) &&
          candidate.subjectDer.equals(current.issuerDer) &&
          keyCertSignProblem(candidate),
      );
      return fail(
        (unfit && keyCertSignProblem(unfit)) ??
          `x509: certificate signed by unknown authority (no trusted issuer for "${subjectText(current)}")`,
      );
    }
    for (const issuer of issuers) {
      // Its key is judged before it checks a signature: a refused key is never used (an RSA
      // exponent of thousands of bits makes one check cost a private-key operation).
      const keyProblem = weakKeyProblem(issuer);
      if (keyProblem) {
        fail(keyProblem);
        continue;
      }
      const algorithmProblem = certificateSignatureProblem(current, issuer);
      if (algorithmProblem) {
        fail(
          `x509: cannot verify the signature of "${subjectText(current)}" by "${subjectText(issuer)}": ${algorithmProblem}`,
        );
        continue;
      }
      if (!issuerSignatureHolds(current, issuer)) {
        fail(
          `x509: certificate "${subjectText(current)}" has an invalid signature from "${subjectText(issuer)}"`,
        );
        continue;
      }
      extend([...path, issuer]);
    }
  };
  extend([leaf]);
  return result;
}

/**
 * buildChains for many tokens signed under the same trust (an audit of a log: every token names
 * the same leaf, intermediates and root), each path built and checked once per validity period
 * rather than once per token: two signature checks and the parsing of a path cost more than the
 * token's own signature.
 *
 * Why a kept result is the one buildChains would compute again: buildChains reads its inputs'
 * certificates (their DER, of which a view is a function) and the instant `at`, and `at` only in
 * validityProblem, for the leaf and for pool certificates (roots and intermediates) as it reaches
 * them. Every other step (critical extensions, keys, CA flags, path length, EKU, issuer names and
 * signatures, the path budget) is a function of the certificates alone, in the order given. So two
 * calls with the same leaf, the same roots and intermediates in the same order, and an `at` at
 * which the same of those certificates are valid (`validAt`, part of the key) examine the same
 * paths with the same outcomes. The one exception is the text of `failure`, which names `at`:
 * only results that found a chain are kept, and kept without `failure`, which verifyParsedToken
 * reads only when none was found. Bounded: the oldest goes first.
 */
export class ChainCache {
  private readonly results = new Map<string, ChainResult>();

  constructor(private readonly limit = 64) {}

  build(leaf: CertificateView, options: ChainOptions): ChainResult {
    const certificates = [leaf, ...options.roots, ...options.intermediates];
    const key = [
      options.roots.length,
      options.intermediates.length,
      certificates.map((certificate) => (validAt(certificate, options.at) ? '1' : '0')).join(''),
      ...certificates.map((certificate) => certificate.der.toString('latin1')),
    ]
      .map((part) => `${String(part).length}:${part}`)
      .join('');
    const kept = this.results.get(key);
    if (kept) return kept;
    const result = buildChains(leaf, options);
    if (result.chains.length > 0) {
      this.results.set(key, { ...result, failure: undefined });
      if (this.results.size > this.limit) this.results.delete(this.results.keys().next().value!);
    }
    return result;
  }
}

/** validityProblem's test, word for word (an invalid Date is no problem there). */
const validAt = (certificate: CertificateView, at: Date): boolean =>
  !(at < certificate.notBefore || at > certificate.notAfter);

/** Whether `issuer`'s key verifies the signature on `certificate`. */
function issuerSignatureHolds(certificate: CertificateView, issuer: CertificateView): boolean {
  try {
    return certificate.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

function weakKeyProblem(certificate: CertificateView): string | undefined {
  const problem = certificateKeyProblem(certificate);
  return problem ? `x509: "${subjectText(certificate)}" has a refused key: ${problem}` : undefined;
}

function validityProblem(certificate: CertificateView, at: Date): string | undefined {
  if (!validAt(certificate, at)) {
    return (
      `x509: certificate has expired or is not yet valid: "${subjectText(certificate)}" is valid from ` +
      `${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}, not at ${at.toISOString()}`
    );
  }
  return undefined;
}

function criticalExtensionProblem(certificate: CertificateView): string | undefined {
  const [unhandled] = certificate.unhandledCriticalExtensions;
  return unhandled
    ? `x509: unhandled critical extension ${unhandled} in "${subjectText(certificate)}"`
    : undefined;
}

/**
 * `below` is the number of CA certificates between this issuer and the leaf. A version 1 trust
 * anchor has no basicConstraints and is a CA all the same: Go's CheckSignatureFrom lets a v1
 * parent sign (its Verify asks IsCA of intermediates only), and OpenSSL takes a self-signed v1
 * certificate for a CA; `openssl x509 -req -signkey` still makes such roots.
 */
function issuerProblem(
  issuer: CertificateView,
  below: number,
  trustAnchor: boolean,
): string | undefined {
  if (!issuer.isCA && !(trustAnchor && issuer.version === 1))
    return `x509: "${subjectText(issuer)}" is not a CA certificate but issued another certificate`;
  const keyUsageProblem = keyCertSignProblem(issuer);
  if (keyUsageProblem) return keyUsageProblem;
  if (issuer.pathLenConstraint !== undefined && below > issuer.pathLenConstraint) {
    return `x509: too many intermediates for the path length constraint of "${subjectText(issuer)}"`;
  }
  return undefined;
}

function keyCertSignProblem(issuer: CertificateView): string | undefined {
  return issuer.keyUsage && !issuer.keyUsage.has('keyCertSign')
    ? `x509: "${subjectText(issuer)}" may not sign certificates (keyUsage lacks keyCertSign)`
    : undefined;
}

/** Go's EKU chaining (#1078): an issuer with no EKU, or one listing timeStamping or anyEKU. */
function allowsTimestamping(issuer: CertificateView): boolean {
  const purposes = issuer.extendedKeyUsage?.purposes;
  return (
    purposes === undefined ||
    purposes.includes(VERIFY_OID.timeStamping) ||
    purposes.includes(VERIFY_OID.anyExtendedKeyUsage)
  );
}

function dedupe(certificates: CertificateView[]): CertificateView[] {
  return certificates.filter(
    (certificate, index) =>
      certificates.findIndex((other) => other.der.equals(certificate.der)) === index,
  );
}
