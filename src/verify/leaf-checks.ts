import { VerificationError } from './errors.js';
import type { CertificateView } from './certificate-view.js';
import { VERIFY_OID } from './oids.js';

/**
 * The Go library's checks of the TSA certificate (pkg/verification verifyLeafCert), applied to the
 * certificate that actually signed: end-entity, EKU critical, exactly one EKU and it is
 * timeStamping, and the expected common name when one is given.
 */
export function checkTsaCertificate(signer: CertificateView, expectedCommonName?: string): void {
  const tsaFailure = (message: string) =>
    new VerificationError('tsa-certificate', `failed to verify TSA certificate: ${message}`);
  if (signer.isCA) throw tsaFailure('TSA certificate must be an end-entity certificate, not a CA');
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
