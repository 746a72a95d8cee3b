/**
 * The object identifiers the verifier reads. Kept apart from src/asn1/oids.ts on purpose: the
 * verifier is an independent check of the server's encoder and shares none of its code.
 */
export const VERIFY_OID = {
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
} as const;

export type DigestName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

const DIGESTS = new Map<string, DigestName>([
  [VERIFY_OID.sha1, 'sha1'],
  [VERIFY_OID.sha224, 'sha224'],
  [VERIFY_OID.sha256, 'sha256'],
  [VERIFY_OID.sha384, 'sha384'],
  [VERIFY_OID.sha512, 'sha512'],
]);

export function digestByOid(oid: string): DigestName | undefined {
  return DIGESTS.get(oid);
}

/** Signature algorithm OIDs that name their digest (RFC 4055, RFC 5758); others take the SignerInfo's. */
const SIGNATURE_DIGESTS = new Map<string, DigestName | null>([
  ['1.2.840.113549.1.1.5', 'sha1'],
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.3.101.112', null], // Ed25519 signs the message itself
]);

/** rsaEncryption and id-ecPublicKey: the digest is the SignerInfo's digestAlgorithm. */
const KEY_ONLY_SIGNATURES = new Set(['1.2.840.113549.1.1.1', '1.2.840.10045.2.1']);

/**
 * The digest a signature algorithm applies: a DigestName, null for Ed25519, or undefined for an
 * algorithm the verifier does not support.
 */
export function signatureDigest(
  signatureOid: string,
  digestAlgorithm: DigestName,
): DigestName | null | undefined {
  if (KEY_ONLY_SIGNATURES.has(signatureOid)) return digestAlgorithm;
  return SIGNATURE_DIGESTS.get(signatureOid);
}
