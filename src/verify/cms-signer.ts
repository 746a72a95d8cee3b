import { constants, createHash, verify as verifySignature } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { VerificationError } from './errors.js';
import type { CertificateView } from './certificate-view.js';
import { certificateKeyProblem, pssParameters, requireAcceptedHash } from './algorithm-policy.js';
import {
  digestByOid,
  signatureAlgorithm,
  VERIFY_OID,
  type DigestName,
  type KeyType,
} from './oids.js';
import { sidKeyIdentifier } from './describe.js';
import type { ParsedToken } from './parse-response.js';

const signatureError = (message: string) =>
  new VerificationError('signature', `error while verifying signature: ${message}`);

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
  const signedAttributes = signerInfo.signedAttrs?.attributes;
  if (!signedAttributes || !token.signedAttributesDer) {
    throw signatureError('the SignerInfo has no signed attributes (RFC 3161 requires them)');
  }
  const single = (oid: string, name: string) => singleValue(signedAttributes, oid, name);
  const messageDigest = single(VERIFY_OID.messageDigest, 'messageDigest');
  if (!(messageDigest instanceof asn1js.OctetString))
    throw signatureError('the messageDigest attribute is missing');
  const tstInfoDigest = createHash(timestamp.signer.digestAlgorithm)
    .update(timestamp.tstInfoDer)
    .digest();
  if (!tstInfoDigest.equals(Buffer.from(messageDigest.valueBlock.valueHexView))) {
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
    const parameters = pssParameters(signerInfo.signatureAlgorithm);
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
  if (!(contentType instanceof asn1js.ObjectIdentifier)) {
    throw signatureError('the contentType signed attribute is missing');
  }
  if (contentType.valueBlock.toString() !== VERIFY_OID.tstInfo) {
    throw signatureError(
      `the contentType attribute is ${contentType.valueBlock.toString()}, not id-ct-TSTInfo`,
    );
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
  signerInfo: pkijs.SignerInfo,
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
function designates(signerInfo: pkijs.SignerInfo, certificate: CertificateView): boolean {
  const sid: unknown = signerInfo.sid;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return (
      Buffer.from(sid.issuer.valueBeforeDecode).equals(certificate.issuerDer) &&
      sid.serialNumber.toBigInt() === certificate.serialNumber
    );
  }
  const keyIdentifier = sidKeyIdentifier(signerInfo);
  return (
    keyIdentifier !== undefined &&
    keyIdentifier.equals(subjectKeyIdentifierOf(certificate) ?? Buffer.alloc(0))
  );
}

function subjectKeyIdentifierOf(certificate: CertificateView): Buffer | undefined {
  const parsed = pkijs.Certificate.fromBER(certificate.der);
  const extension = parsed.extensions?.find(
    (candidate) => candidate.extnID === VERIFY_OID.subjectKeyIdentifier,
  );
  if (!extension) return undefined;
  const value = asn1js.fromBER(extension.extnValue.getValue()).result;
  return value instanceof asn1js.OctetString
    ? Buffer.from(value.valueBlock.valueHexView)
    : undefined;
}

/** The value of the signed attribute of type `oid`, or undefined when absent. */
type SingleValue = (oid: string, name: string) => asn1js.AsnType | undefined;

/**
 * The one value of a single-instance signed attribute (contentType, messageDigest, signingTime:
 * RFC 5652 section 11; signingCertificate and signingCertificateV2: RFC 5035): a repeated
 * attribute, or one with other than one value, is refused, never read as its first.
 */
function singleValue(
  attributes: readonly pkijs.Attribute[],
  oid: string,
  name: string,
): asn1js.AsnType | undefined {
  const matches = attributes.filter((attribute) => attribute.type === oid);
  if (matches.length > 1) throw signatureError(`the ${name} attribute appears more than once`);
  const values = matches[0]?.values;
  if (values && values.length !== 1)
    throw signatureError(`the ${name} attribute must have exactly one value`);
  return values?.[0];
}

/** signingTime, when present, is a Time (RFC 5652 section 11.3) within the signer's validity. */
function checkSigningTime(value: asn1js.AsnType | undefined, signer: CertificateView): void {
  if (value === undefined) return;
  if (!(value instanceof asn1js.UTCTime || value instanceof asn1js.GeneralizedTime)) {
    throw signatureError('the signingTime attribute is not a UTCTime or GeneralizedTime');
  }
  const at = value.toDate();
  if (at < signer.notBefore || at > signer.notAfter) {
    throw signatureError(
      `the signing time ${at.toISOString()} is outside the signer certificate's validity`,
    );
  }
}

/** The first ESSCertID(v2) of a signingCertificate(V2) attribute, read. */
interface EssCertId {
  hash: DigestName;
  certHash: Buffer;
  /** IssuerSerial, when present: the directoryName DERs of its GeneralNames, and the serial. */
  issuerSerial: { directoryNames: Buffer[]; serialNumber: bigint } | undefined;
}

/**
 * SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
 * ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256,
 *   certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
 * SigningCertificate (v1) is the same with ESSCertID { certHash (SHA-1), issuerSerial OPTIONAL }.
 * The first ESSCertID identifies the signer certificate (RFC 5035 section 5.4).
 */
function checkSigningCertificate(single: SingleValue, signer: CertificateView): void {
  // Both are read, so that either repeated is refused even where the other is the one checked.
  const v2 = single(VERIFY_OID.signingCertificateV2, 'signingCertificateV2');
  const v1 = single(VERIFY_OID.signingCertificate, 'signingCertificate');
  const value = v2 ?? v1;
  if (!value) {
    throw signatureError(
      'the token has neither a signingCertificateV2 nor a signingCertificate attribute',
    );
  }
  const name = v2 ? 'signingCertificateV2' : 'signingCertificate';
  const ess = readEssCertId(value, name);
  if (!createHash(ess.hash).update(signer.der).digest().equals(ess.certHash)) {
    throw signatureError(
      `the ${name} attribute's certificate hash does not match the signer certificate`,
    );
  }
  const { issuerSerial } = ess;
  if (!issuerSerial) return;
  const issuerMatches = issuerSerial.directoryNames.some((der) => der.equals(signer.issuerDer));
  if (!issuerMatches || issuerSerial.serialNumber !== signer.serialNumber) {
    throw signatureError(
      `the ${name} attribute's issuerSerial does not match the signer certificate`,
    );
  }
}

/**
 * Reads the first ESSCertID(v2) of `attribute`. The signer chose these bytes (any self-made
 * certificate signs them), and PKI.js throws a plain Error on a shape it does not expect: every
 * failure is a VerificationError that names the attribute.
 */
function readEssCertId(value: asn1js.AsnType, name: string): EssCertId {
  const malformed = (detail?: string) =>
    signatureError(`the ${name} attribute is malformed${detail ? `: ${detail}` : ''}`);
  try {
    return readEssCertIdFields(value, name === 'signingCertificateV2', malformed);
  } catch (error) {
    if (error instanceof VerificationError) throw error;
    throw malformed(error instanceof Error ? error.message : String(error));
  }
}

function readEssCertIdFields(
  signingCertificate: asn1js.AsnType,
  v2: boolean,
  malformed: () => VerificationError,
): EssCertId {
  if (!(signingCertificate instanceof asn1js.Sequence)) throw malformed();
  const certs = signingCertificate.valueBlock.value[0];
  if (!(certs instanceof asn1js.Sequence)) throw malformed();
  const first = certs.valueBlock.value[0];
  if (!(first instanceof asn1js.Sequence)) throw malformed();
  const fields = [...first.valueBlock.value];

  let hash: DigestName = v2 ? 'sha256' : 'sha1';
  if (v2 && fields[0] instanceof asn1js.Sequence) {
    const algorithm = new pkijs.AlgorithmIdentifier({ schema: fields.shift() });
    const digest = digestByOid(algorithm.algorithmId);
    if (!digest)
      throw signatureError(`unknown ESSCertIDv2 hash algorithm ${algorithm.algorithmId}`);
    // SHA-1 stays only in ESSCertID (v1), where RFC 5035 fixes it.
    requireAcceptedHash(digest, 'the ESSCertIDv2 hashAlgorithm');
    hash = digest;
  }
  const certHash = fields.shift();
  if (!(certHash instanceof asn1js.OctetString)) throw malformed();
  const issuerSerial = fields.shift();
  const read = { hash, certHash: Buffer.from(certHash.valueBlock.valueHexView) };
  if (issuerSerial === undefined) return { ...read, issuerSerial: undefined };
  if (!(issuerSerial instanceof asn1js.Sequence)) throw malformed();
  const [issuerNames, serialNumber] = issuerSerial.valueBlock.value;
  if (!(issuerNames instanceof asn1js.Sequence) || !(serialNumber instanceof asn1js.Integer))
    throw malformed();
  const directoryNames = issuerNames.valueBlock.value
    .map((generalName) => new pkijs.GeneralName({ schema: generalName }))
    .filter(
      (generalName) =>
        generalName.type === 4 && generalName.value instanceof pkijs.RelativeDistinguishedNames,
    )
    .map((generalName) =>
      Buffer.from((generalName.value as pkijs.RelativeDistinguishedNames).valueBeforeDecode),
    );
  return { ...read, issuerSerial: { directoryNames, serialNumber: serialNumber.toBigInt() } };
}
