import type { CertificateView } from './certificate-view.js';
import type { DigestName } from './oids.js';

/** The accuracy of genTime (RFC 3161 section 2.4.2); absent fields are zero. */
export interface Accuracy {
  seconds: number;
  millis: number;
  micros: number;
}

/** One signed attribute of the SignerInfo, for display. */
export interface SignedAttribute {
  oid: string;
  name: string;
  /** The attribute's values, DER, hex. */
  valuesHex: string[];
  /** The value read for people: a time, a digest, an OID, the ESS certificate hash. */
  description: string;
}

/** A parsed RFC 3161 time-stamp token: the TSTInfo and the CMS signer around it. */
export interface Timestamp {
  /** PKIStatus of the response: 0 granted. */
  status: number;
  /** TSTInfo version (1). */
  version: number;
  policy: string;
  hashAlgorithm: DigestName;
  hashAlgorithmOid: string;
  hashedMessage: Buffer;
  serialNumber: bigint;
  genTime: Date;
  accuracy: Accuracy | undefined;
  ordering: boolean;
  nonce: bigint | undefined;
  /** TSTInfo tsa name as text, and its directoryName DER when it is one. */
  tsaName: string | undefined;
  tsaNameDer: Buffer | undefined;
  /** The tsa GeneralName's DER, whatever its kind (compared with a subjectAltName). */
  tsaGeneralNameDer: Buffer | undefined;
  extensions: { oid: string; critical: boolean; valueHex: string }[];
  /** Certificates embedded in the SignedData, in order. */
  certificates: CertificateView[];
  signer: {
    /** The SignerInfo sid as text. */
    identifier: string;
    digestAlgorithm: DigestName;
    signatureAlgorithmOid: string;
    signedAttributes: SignedAttribute[];
    signingTime: Date | undefined;
  };
  /** The TSTInfo DER (eContent), which the signature covers: the timestamp's identity. */
  tstInfoDer: Buffer;
  /**
   * The whole token (ContentInfo) DER as received. Tokens that verify alike can differ outside the
   * signed attributes (embedded certificates, unsigned attributes, an ECDSA signature's s ...).
   */
  tokenDer: Buffer;
}
