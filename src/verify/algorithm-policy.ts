import type { KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import type { CertificateView } from './certificate-view.js';
import { VerificationError } from './errors.js';
import {
  CERTIFICATE_SIGNATURES,
  digestByOid,
  INSECURE_CERTIFICATE_SIGNATURES,
  VERIFY_OID,
  type DigestName,
} from './oids.js';

/** The digests a token may use anywhere it signs or hashes (Go's VerifyTimestampResponse rule). */
const ACCEPTED_HASHES = new Set<DigestName>(['sha256', 'sha384', 'sha512']);

/** Smallest RSA modulus accepted for the TSA and every chain certificate (what our server signs with). */
export const MIN_RSA_BITS = 2048;

/**
 * Largest RSA public exponent accepted: Go's crypto/rsa refuses more than 2^31-1 (so that the
 * cost of a public-key operation stays bounded; an exponent of thousands of bits costs as much
 * as a private-key one). RFC 8017 section 3.1 asks for 3 <= e, and e odd (coprime with λ(n)).
 */
const MAX_RSA_EXPONENT = 2n ** 31n - 1n;

/** The curves Go's crypto/x509 verifies with, as Node names them. */
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/**
 * Refuses a digest the message imprint would refuse: SHA-1 is `weak-hash`, SHA-224 (or anything
 * else not SHA-2 256/384/512) `unsupported-hash`. `where` names the field; the imprint's message
 * is Go's own.
 */
export function requireAcceptedHash(digest: DigestName, where?: string): void {
  if (ACCEPTED_HASHES.has(digest)) return;
  const place = where ? ` ${digest.toUpperCase().replace('SHA', 'SHA-')} in ${where}` : '';
  if (digest === 'sha1') {
    throw new VerificationError(
      'weak-hash',
      `weak hash algorithm${place}: must be SHA-256, SHA-384, or SHA-512`,
    );
  }
  throw new VerificationError('unsupported-hash', `unsupported hash algorithm${place}`);
}

/** Why a public key is too weak or of an unsupported kind, or undefined when it is acceptable. */
export function keyProblem(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  switch (type) {
    case 'rsa':
    case 'rsa-pss': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) return `RSA key of ${bits} bits, fewer than ${MIN_RSA_BITS}`;
      return rsaExponentProblem(key.asymmetricKeyDetails?.publicExponent);
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve !== undefined && EC_CURVES.has(curve)
        ? undefined
        : `unsupported elliptic curve ${curve ?? '(explicit parameters)'}: P-256, P-384 or P-521 only`;
    }
    case 'ed25519':
      return undefined;
    default:
      return `unsupported public key type ${type ?? 'unknown'}`;
  }
}

/** Why an RSA public exponent is refused (see {@link MAX_RSA_EXPONENT}), or undefined. */
function rsaExponentProblem(exponent: bigint | undefined): string | undefined {
  if (exponent === undefined) return 'RSA public exponent unreadable';
  if (exponent > MAX_RSA_EXPONENT) {
    return `RSA public exponent of ${exponent.toString(2).length} bits, more than 2^31-1`;
  }
  if (exponent < 3n) return `RSA public exponent ${exponent}, less than 3`;
  return exponent % 2n === 0n ? `even RSA public exponent ${exponent}` : undefined;
}

/** The key of a certificate's subject, checked by {@link keyProblem}; undefined when acceptable. */
export function certificateKeyProblem(certificate: CertificateView): string | undefined {
  let key: KeyObject;
  try {
    key = certificate.x509.publicKey;
  } catch {
    return 'its public key cannot be read';
  }
  const problem = keyProblem(key);
  if (problem !== undefined || !certificate.curveSpecified) return problem;
  // Read from the certificate: a KeyObject's SPKI export, to tell, costs ~100 us.
  return `elliptic curve ${key.asymmetricKeyDetails?.namedCurve ?? ''} given by explicit parameters: RFC 5480 section 2.1.1 allows a named curve only`;
}

/**
 * Why `issuer`'s signature on `certificate` may not be relied on whatever its value: an insecure
 * or unsupported algorithm (MD2/MD4/MD5/SHA-1 are refused, as by Go's crypto/x509), or one that
 * does not fit the issuer's key type.
 */
export function certificateSignatureProblem(
  certificate: CertificateView,
  issuer: CertificateView,
): string | undefined {
  const { algorithmId } = certificate.signatureAlgorithm;
  const insecure = INSECURE_CERTIFICATE_SIGNATURES.get(algorithmId);
  if (insecure) return `insecure algorithm ${insecure}`;
  let keyTypes: readonly string[];
  if (algorithmId === VERIFY_OID.rsassaPss) {
    const pss = pssParameters(certificate.signatureAlgorithm);
    if (typeof pss === 'string') return pss;
    if (!ACCEPTED_HASHES.has(pss.digest)) return `insecure algorithm RSASSA-PSS with ${pss.digest}`;
    keyTypes = ['rsa', 'rsa-pss'];
  } else {
    const keyType = CERTIFICATE_SIGNATURES.get(algorithmId);
    if (!keyType) return `unsupported signature algorithm ${algorithmId}`;
    keyTypes = [keyType];
  }
  let issuerKeyType: string | undefined;
  try {
    issuerKeyType = issuer.x509.publicKey.asymmetricKeyType;
  } catch {
    issuerKeyType = undefined;
  }
  return issuerKeyType !== undefined && keyTypes.includes(issuerKeyType)
    ? undefined
    : `signature algorithm ${algorithmId} does not fit the issuer's ${issuerKeyType ?? 'unreadable'} key`;
}

/**
 * RSASSA-PSS-params (RFC 4055 section 3.1) that node can verify: a known hash, MGF1 with that same
 * hash, any salt length, trailerField 1. Absent fields take RFC 4055's defaults (SHA-1, salt 20).
 * Returns why not, as text, otherwise.
 */
export function pssParameters(
  algorithm: pkijs.AlgorithmIdentifier,
): { digest: DigestName; saltLength: number } | string {
  let params: pkijs.RSASSAPSSParams;
  try {
    params = new pkijs.RSASSAPSSParams({ schema: algorithm.algorithmParams });
  } catch {
    return 'the RSASSA-PSS parameters are malformed';
  }
  const digest = digestByOid(params.hashAlgorithm.algorithmId);
  if (!digest) return `unsupported RSASSA-PSS hash ${params.hashAlgorithm.algorithmId}`;
  const mgf = params.maskGenAlgorithm;
  let mgfHash: string | undefined;
  try {
    mgfHash = new pkijs.AlgorithmIdentifier({ schema: mgf.algorithmParams }).algorithmId;
  } catch {
    mgfHash = undefined;
  }
  if (mgf.algorithmId !== VERIFY_OID.mgf1 || mgfHash !== params.hashAlgorithm.algorithmId) {
    return 'RSASSA-PSS with a mask generation other than MGF1 with the same hash';
  }
  if (params.trailerField !== 1) return 'RSASSA-PSS trailerField must be 1';
  return { digest, saltLength: params.saltLength };
}
