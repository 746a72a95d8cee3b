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
  privateKeyUsagePeriod: '2.5.29.16',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlDistributionPoints: '2.5.29.31',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
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

/** The key types Node reports (KeyObject.asymmetricKeyType) that this verifier accepts. */
export type KeyType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519';

interface SignatureAlgorithm {
  /** The key a signature with this OID must come from (RFC 4055, RFC 5758, RFC 8410). */
  keys: readonly KeyType[];
  /** The digest it applies; 'signer' takes the SignerInfo digestAlgorithm; null for Ed25519. */
  digest: DigestName | 'signer' | null;
}

const RSA: readonly KeyType[] = ['rsa'];
const EC: readonly KeyType[] = ['ec'];

/**
 * The SignerInfo signatureAlgorithm OIDs the verifier supports. rsaEncryption and id-ecPublicKey
 * name only the key and take the SignerInfo's digest (RFC 5652 section 5.3); RSASSA-PSS takes the
 * hash of its parameters.
 */
const SIGNATURE_ALGORITHMS = new Map<string, SignatureAlgorithm>([
  ['1.2.840.113549.1.1.1', { keys: RSA, digest: 'signer' }],
  ['1.2.840.113549.1.1.5', { keys: RSA, digest: 'sha1' }],
  ['1.2.840.113549.1.1.11', { keys: RSA, digest: 'sha256' }],
  ['1.2.840.113549.1.1.12', { keys: RSA, digest: 'sha384' }],
  ['1.2.840.113549.1.1.13', { keys: RSA, digest: 'sha512' }],
  [VERIFY_OID.rsassaPss, { keys: ['rsa', 'rsa-pss'], digest: 'signer' }],
  ['1.2.840.10045.2.1', { keys: EC, digest: 'signer' }],
  ['1.2.840.10045.4.3.2', { keys: EC, digest: 'sha256' }],
  ['1.2.840.10045.4.3.3', { keys: EC, digest: 'sha384' }],
  ['1.2.840.10045.4.3.4', { keys: EC, digest: 'sha512' }],
  ['1.3.101.112', { keys: ['ed25519'], digest: null }], // Ed25519 signs the message itself
]);

/** The SignerInfo signature algorithm for an OID, or undefined when the verifier does not support it. */
export function signatureAlgorithm(signatureOid: string): SignatureAlgorithm | undefined {
  return SIGNATURE_ALGORITHMS.get(signatureOid);
}

/**
 * Certificate signature algorithms accepted on a chain link, with the key type each needs
 * (RFC 4055, RFC 5758, RFC 8410). RSASSA-PSS is checked apart: its hash is in its parameters.
 * MD2, MD4, MD5 and SHA-1 are absent, as from Go's crypto/x509 (insecure algorithms).
 */
export const CERTIFICATE_SIGNATURES = new Map<string, KeyType>([
  ['1.2.840.113549.1.1.11', 'rsa'],
  ['1.2.840.113549.1.1.12', 'rsa'],
  ['1.2.840.113549.1.1.13', 'rsa'],
  ['1.2.840.10045.4.3.2', 'ec'],
  ['1.2.840.10045.4.3.3', 'ec'],
  ['1.2.840.10045.4.3.4', 'ec'],
  ['1.3.101.112', 'ed25519'],
]);

/** Names for the refused certificate signature algorithms, for the error message. */
export const INSECURE_CERTIFICATE_SIGNATURES = new Map<string, string>([
  ['1.2.840.113549.1.1.2', 'MD2-RSA'],
  ['1.2.840.113549.1.1.3', 'MD4-RSA'],
  ['1.2.840.113549.1.1.4', 'MD5-RSA'],
  ['1.2.840.113549.1.1.5', 'SHA1-RSA'],
  ['1.3.14.3.2.29', 'SHA1-RSA'],
  ['1.2.840.10045.4.1', 'ECDSA-SHA1'],
  ['1.2.840.10040.4.3', 'DSA-SHA1'],
]);
