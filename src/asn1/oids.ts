/** Object identifiers used by RFC 3161, RFC 5652, RFC 5816 and RFC 5280. */
export const OID = {
  // Hash algorithms
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // Signature algorithms
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ed25519: '1.3.101.112',
  // Public keys (RFC 5480)
  ecPublicKey: '1.2.840.10045.2.1',
  // CMS (RFC 5652) and TSP (RFC 3161)
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  // X.509 (RFC 5280)
  commonName: '2.5.4.3',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  keyUsage: '2.5.29.15',
  privateKeyUsagePeriod: '2.5.29.16',
  basicConstraints: '2.5.29.19',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  // RFC 3739 qcStatements; ETSI EN 319 422 esi4-qtstStatement-1 inside claims an eIDAS-qualified token
  qcStatements: '1.3.6.1.5.5.7.1.3',
  esi4QtstStatement1: '0.4.0.19422.1.1',
  // sigstore's default TSA policy
  sigstoreTsaPolicy: '1.3.6.1.4.1.57264.2',
} as const;
