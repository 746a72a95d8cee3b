import { VerificationError } from './errors.js';
import type { CertificateView } from './certificate-view.js';
import { VERIFY_OID } from './oids.js';
import {
  readPrivateKeyUsagePeriod,
  type PrivateKeyUsagePeriod,
} from './private-key-usage-period.js';

/** The keyUsage bits a TSA certificate may have (OpenSSL's check_purpose_timestamp_sign). */
const TSA_KEY_USAGE: ReadonlySet<string> = new Set(['digitalSignature', 'contentCommitment']);

/**
 * The Go library's checks of the TSA certificate (pkg/verification verifyLeafCert), applied to the
 * certificate that actually signed: end-entity, EKU critical, exactly one EKU and it is
 * timeStamping, and the expected common name when one is given. Beyond Go: a keyUsage, when
 * present, allows digitalSignature and/or nonRepudiation and no other bit, as `openssl ts -verify`
 * requires (crypto/x509/v3_purp.c, check_purpose_timestamp_sign; the key signs tokens only).
 */
export function checkTsaCertificate(signer: CertificateView, expectedCommonName?: string): void {
  const tsaFailure = (message: string) =>
    new VerificationError('tsa-certificate', `failed to verify TSA certificate: ${message}`);
  if (signer.isCA) throw tsaFailure('TSA certificate must be an end-entity certificate, not a CA');
  const keyUsage = signer.keyUsage;
  if (keyUsage && !keyUsage.has('digitalSignature') && !keyUsage.has('contentCommitment')) {
    throw tsaFailure('keyUsage allows neither digitalSignature nor nonRepudiation');
  }
  const beyond = [...(keyUsage ?? [])].filter((bit) => !TSA_KEY_USAGE.has(bit));
  if (beyond.length > 0) {
    throw tsaFailure(
      `keyUsage also allows ${beyond.join(', ')}: only digitalSignature and nonRepudiation may be set`,
    );
  }
  const eku = signer.extendedKeyUsage;
  if (eku && !eku.critical) throw tsaFailure('certificate must set EKU to critical');
  if (expectedCommonName !== undefined && signer.subjectCommonName !== expectedCommonName) {
    throw new VerificationError(
      'tsa-certificate',
      `the certificate's subject Common Name ${signer.subjectCommonName ?? '(none)'} does not match the provided Common Name ${expectedCommonName}`,
    );
  }
  const ekuFailure = (message: string) =>
    new VerificationError('eku', `failed to verify EKU on leaf certificate: ${message}`);
  const purposes = eku?.purposes ?? [];
  if (purposes.length !== 1) {
    throw ekuFailure(`certificate has ${purposes.length} extended key usages, expected only one`);
  }
  if (purposes[0] !== VERIFY_OID.timeStamping) {
    throw ekuFailure('leaf certificate EKU is not set to TimeStamping as required');
  }
}

/** The TSA certificate must be valid at the token's genTime (RFC 3161 section 4.3), whatever instant the chain is checked at. */
export function checkGenTimeInValidity(signer: CertificateView, genTime: Date): void {
  if (genTime < signer.notBefore || genTime > signer.notAfter) {
    throw new VerificationError(
      'tsa-certificate',
      `failed to verify TSA certificate: the token's genTime ${genTime.toISOString()} is outside its validity, ` +
        `${signer.notBefore.toISOString()} to ${signer.notAfter.toISOString()}`,
    );
  }
}

/**
 * Beyond Go (crypto/x509 does not parse the extension), `openssl ts -verify` and Bouncy Castle's
 * TimeStampToken.validate, none of which reads it: the TSA certificate's key may sign only within
 * its privateKeyUsagePeriod (X.509 section 9.2.2.5), so a token dated outside it was not signed
 * as the CA allowed (the key may have been retired, or leaked since). One that cannot be read is
 * refused too, as the server refuses such a leaf at start.
 */
export function checkGenTimeInPrivateKeyUsagePeriod(signer: CertificateView, genTime: Date): void {
  if (!signer.privateKeyUsagePeriodDer) return;
  let period: PrivateKeyUsagePeriod;
  try {
    period = readPrivateKeyUsagePeriod(signer.privateKeyUsagePeriodDer);
  } catch (error) {
    throw new VerificationError(
      'tsa-certificate',
      `failed to verify TSA certificate: its private key usage period (2.5.29.16) cannot be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { notBefore, notAfter } = period;
  if ((notBefore && genTime < notBefore) || (notAfter && genTime > notAfter)) {
    const bounds =
      notBefore && notAfter
        ? `${notBefore.toISOString()} to ${notAfter.toISOString()}`
        : notBefore
          ? `from ${notBefore.toISOString()}`
          : `until ${(notAfter as Date).toISOString()}`;
    throw new VerificationError(
      'tsa-certificate',
      `failed to verify TSA certificate: the token's genTime ${genTime.toISOString()} is outside its private key usage period, ${bounds}`,
    );
  }
}
