import { constants, createHash, verify as verifySignature } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { oidText, UNIVERSAL } from './der-node.js';
import { signatureError, VerificationError } from './errors.js';
import { RecentByBytes } from './recent.js';
import type { CertificateView } from './certificate-view.js';
import { certificateKeyProblem, pssParameters, requireAcceptedHash } from './algorithm-policy.js';
import { checkSigningCertificate, checkSigningTime, singleValue } from './signed-attributes.js';
import { signatureAlgorithm, VERIFY_OID, type DigestName, type KeyType } from './oids.js';
import type { ParsedToken, SignerInfoFields } from './parse-response.js';

/**
 * Verifies the CMS SignerInfo of a token (RFC 5652 section 5.4, RFC 3161, RFC 5816) and returns
 * the signer certificate: the candidate the sid designates AND whose key verifies the signature,
 * never merely the first embedded certificate (GHSA-xm5m-wgh2-rrg3). Then the signed attributes:
 * contentType names TSTInfo, messageDigest is the TSTInfo's digest, and the ESSCertIDv2 (or
 * ESSCertID) names the signer certificate by hash and, when present, by issuer and serial. Every
 * digest but ESSCertID's (SHA-1 by RFC 5035) must be SHA-256, SHA-384 or SHA-512, and the
 * signature algorithm must fit the signer's key type.
 */
export function verifySignerInfo(
  token: ParsedToken,
  candidates: readonly CertificateView[],
): CertificateView {
  const { signerInfo, timestamp } = token;
  requireAcceptedHash(timestamp.signer.digestAlgorithm, 'the SignerInfo digestAlgorithm');
  const { signedAttributes } = signerInfo;
  if (!signedAttributes || !token.signedAttributesDer) {
    throw signatureError('the SignerInfo has no signed attributes (RFC 3161 requires them)');
  }
  const single = (oid: string, name: string) => singleValue(signedAttributes, oid, name);
  const messageDigest = single(VERIFY_OID.messageDigest, 'messageDigest');
  if (!messageDigest?.is(UNIVERSAL, 4) || messageDigest.constructed)
    throw signatureError('the messageDigest attribute is missing');
  const tstInfoDigest = createHash(timestamp.signer.digestAlgorithm)
    .update(timestamp.tstInfoDer)
    .digest();
  if (!tstInfoDigest.equals(messageDigest.content)) {
    throw signatureError(
      'the messageDigest attribute does not match the TSTInfo: the token content was altered',
    );
  }

  const designated = designatedCertificates(signerInfo, candidates);
  const algorithmOid = timestamp.signer.signatureAlgorithmOid;
  const algorithm = signatureAlgorithm(algorithmOid);
  if (!algorithm) throw signatureError(`unsupported signature algorithm ${algorithmOid}`);
  let pss: { digest: DigestName; saltLength: number } | undefined;
  if (algorithmOid === VERIFY_OID.rsassaPss) {
    const parameters = pssParameters(
      new pkijs.AlgorithmIdentifier({
        schema: asn1js.fromBER(signerInfo.signatureAlgorithmDer).result,
      }),
    );
    if (typeof parameters === 'string') throw signatureError(parameters);
    pss = parameters;
  }
  const digest =
    pss?.digest ??
    (algorithm.digest === 'signer' ? timestamp.signer.digestAlgorithm : algorithm.digest);
  if (digest !== null) requireAcceptedHash(digest, 'the SignerInfo signatureAlgorithm');
  // The OID must name the key's own algorithm: an RSA signature relabelled ECDSA or Ed25519 is refused.
  const fitting = designated.filter((candidate) => {
    try {
      return algorithm.keys.includes(candidate.x509.publicKey.asymmetricKeyType as KeyType);
    } catch {
      return false;
    }
  });
  if (fitting.length === 0) {
    throw signatureError(
      `the signature algorithm ${algorithmOid} does not fit the signer certificate's key`,
    );
  }
  // The key policy comes before any signature check: a refused key (an RSA exponent of thousands
  // of bits makes one check cost a private-key operation) is never used.
  const keyProblems = fitting.map(certificateKeyProblem);
  const signer = fitting.find((candidate, index) => {
    if (keyProblems[index] !== undefined) return false;
    try {
      const key = candidate.x509.publicKey;
      return verifySignature(
        digest,
        token.signedAttributesDer as Buffer,
        pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength } : key,
        token.signature,
      );
    } catch {
      return false;
    }
  });
  if (!signer) {
    const weakKey = keyProblems.find((problem) => problem !== undefined);
    if (weakKey) {
      throw new VerificationError(
        'tsa-certificate',
        `failed to verify TSA certificate: the signer key is refused: ${weakKey}`,
      );
    }
    throw signatureError("the signature does not verify with the signer certificate's key");
  }

  // The attributes mean something only once the signature over them holds.
  const contentType = single(VERIFY_OID.contentType, 'contentType');
  if (!contentType?.is(UNIVERSAL, 6) || contentType.constructed) {
    throw signatureError('the contentType signed attribute is missing');
  }
  const contentTypeOid = oidText(contentType.content);
  if (contentTypeOid !== VERIFY_OID.tstInfo) {
    throw signatureError(`the contentType attribute is ${contentTypeOid}, not id-ct-TSTInfo`);
  }

  checkSigningCertificate(single, signer);
  checkSigningTime(single(VERIFY_OID.signingTime, 'signingTime'), signer);
  return signer;
}

/**
 * Most different certificates the sid may designate. An honest token has one (a renewed
 * certificate for the same key may add one under a subjectKeyIdentifier sid); each is a
 * signature check, so a token carrying hundreds must not buy hundreds of them.
 */
const MAX_DESIGNATED_CERTIFICATES = 4;

/** The different certificates of `candidates` the sid designates (a copy of one counts once). */
function designatedCertificates(
  signerInfo: SignerInfoFields,
  candidates: readonly CertificateView[],
): CertificateView[] {
  const designated: CertificateView[] = [];
  for (const candidate of candidates) {
    if (designated.some((known) => known.der.equals(candidate.der))) continue;
    if (!designates(signerInfo, candidate)) continue;
    designated.push(candidate);
    if (designated.length > MAX_DESIGNATED_CERTIFICATES) {
      throw signatureError(
        `the SignerInfo sid designates more than ${MAX_DESIGNATED_CERTIFICATES} different certificates`,
      );
    }
  }
  if (designated.length === 0) {
    throw new VerificationError('no-signer-certificate', 'signer certificate was not found');
  }
  return designated;
}

/** Whether the SignerInfo's sid (IssuerAndSerialNumber or SubjectKeyIdentifier) names `certificate`. */
function designates({ sid }: SignerInfoFields, certificate: CertificateView): boolean {
  if ('issuerDer' in sid)
    return (
      sid.issuerDer.equals(certificate.issuerDer) && sid.serialNumber === certificate.serialNumber
    );
  return sid.keyIdentifier.equals(subjectKeyIdentifierOf(certificate) ?? Buffer.alloc(0));
}

/**
 * The subjectKeyIdentifiers of the certificates looked at last, by DER: a function of the DER
 * alone, and parsing a certificate again for it costs more than a token's signature check when a
 * batch of tokens (log-audit) names the same certificate by key identifier. Bounded: the oldest
 * goes first. Callers get their own copy.
 */
const recentKeyIdentifiers = new RecentByBytes<Buffer | undefined>(32);

function subjectKeyIdentifierOf(certificate: CertificateView): Buffer | undefined {
  const known = recentKeyIdentifiers.get(certificate.der, () =>
    readSubjectKeyIdentifier(certificate.der),
  );
  return known && Buffer.from(known);
}

function readSubjectKeyIdentifier(der: Buffer): Buffer | undefined {
  const parsed = pkijs.Certificate.fromBER(der);
  const extension = parsed.extensions?.find(
    (candidate) => candidate.extnID === VERIFY_OID.subjectKeyIdentifier,
  );
  if (!extension) return undefined;
  const value = asn1js.fromBER(extension.extnValue.getValue()).result;
  return value instanceof asn1js.OctetString
    ? Buffer.from(value.valueBlock.valueHexView)
    : undefined;
}
