import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { requireAcceptedHash } from './algorithm-policy.js';
import { timeValue, type DerNode } from './der-node.js';
import { RecentByBytes } from './recent.js';
import type { AttributeNode } from './parse-response.js';
import type { CertificateView } from './certificate-view.js';
import { signatureError, VerificationError } from './errors.js';
import { digestByOid, VERIFY_OID, type DigestName } from './oids.js';

/**
 * The signed attributes of a token's SignerInfo, read once the signature over them holds: each
 * single-instance attribute once, signingTime within the signer's validity, and the ESS
 * signingCertificate(V2) naming the signer certificate (RFC 5652 section 11, RFC 5035).
 */

/** The value of the signed attribute of type `oid`, or undefined when absent. */
export type SingleValue = (oid: string, name: string) => DerNode | undefined;

/**
 * The one value of a single-instance signed attribute (contentType, messageDigest, signingTime:
 * RFC 5652 section 11; signingCertificate and signingCertificateV2: RFC 5035): a repeated
 * attribute, or one with other than one value, is refused, never read as its first.
 */
export function singleValue(
  attributes: readonly AttributeNode[],
  oid: string,
  name: string,
): DerNode | undefined {
  const matches = attributes.filter((attribute) => attribute.type === oid);
  if (matches.length > 1) throw signatureError(`the ${name} attribute appears more than once`);
  const values = matches[0]?.values;
  if (values && values.length !== 1)
    throw signatureError(`the ${name} attribute must have exactly one value`);
  return values?.[0];
}

/** signingTime, when present, is a Time (RFC 5652 section 11.3) within the signer's validity. */
export function checkSigningTime(value: DerNode | undefined, signer: CertificateView): void {
  if (value === undefined) return;
  const at = timeValue(value);
  if (!at) {
    throw signatureError('the signingTime attribute is not a UTCTime or GeneralizedTime');
  }
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
export function checkSigningCertificate(single: SingleValue, signer: CertificateView): void {
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
 * Reads the first ESSCertID(v2) of a signingCertificate(V2) attribute's `value`. The signer chose these bytes (any self-made
 * certificate signs them), and PKI.js throws a plain Error on a shape it does not expect: every
 * failure is a VerificationError that names the attribute.
 */
function readEssCertId(value: DerNode, name: string): EssCertId {
  const malformed = (detail?: string) =>
    signatureError(`the ${name} attribute is malformed${detail ? `: ${detail}` : ''}`);
  return recentEssCertIds.get(
    value.der,
    () => {
      try {
        return readEssCertIdFields(
          asn1js.fromBER(value.der).result,
          name === 'signingCertificateV2',
          malformed,
        );
      } catch (error) {
        if (error instanceof VerificationError) throw error;
        throw malformed(error instanceof Error ? error.message : String(error));
      }
    },
    name,
  );
}

/**
 * The ESSCertIDs read last, by the attribute's kind and DER: a function of those alone (the value's
 * asn1js tree is decoded from them, when not kept), and every token of a TSA carries the same one, whose
 * GeneralNames cost PKI.js more than the token's signature check to read. Only read ones are kept;
 * checkSigningCertificate only reads them. Bounded: the oldest goes first.
 */
const recentEssCertIds = new RecentByBytes<EssCertId>(16);

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
