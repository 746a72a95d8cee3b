import { createHash } from 'node:crypto';
import { subjectText } from './certificate-view.js';
import type { Timestamp } from './timestamp.js';

/**
 * The stable JSON view of a timestamp (timestamp-cli inspect/verify --format json). Big integers
 * are strings: the serial number in hex, the nonce in decimal, as JSON numbers would round them.
 */
export interface TimestampJson {
  status: 'granted';
  version: number;
  policy: string;
  serialNumber: string;
  genTime: string;
  accuracy: { seconds: number; millis: number; micros: number } | null;
  ordering: boolean;
  nonce: string | null;
  tsaName: string | null;
  messageImprint: { hashAlgorithm: string; hashAlgorithmOid: string; hashedMessage: string };
  extensions: { oid: string; critical: boolean; value: string }[];
  signer: {
    identifier: string;
    digestAlgorithm: string;
    signatureAlgorithmOid: string;
    signingTime: string | null;
    signedAttributes: { name: string; oid: string; description: string; values: string[] }[];
  };
  certificates: {
    subject: string;
    issuer: string;
    serialNumber: string;
    notBefore: string;
    notAfter: string;
    sha256Fingerprint: string;
  }[];
  /** The TimeStampToken (CMS ContentInfo) DER, base64. */
  token: string;
}

/** RFC 3339 in UTC, keeping fractional seconds only when the token has them. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

export function timestampToJson(timestamp: Timestamp): TimestampJson {
  return {
    status: 'granted',
    version: timestamp.version,
    policy: timestamp.policy,
    serialNumber: timestamp.serialNumber.toString(16),
    genTime: rfc3339(timestamp.genTime),
    accuracy: timestamp.accuracy ?? null,
    ordering: timestamp.ordering,
    nonce: timestamp.nonce === undefined ? null : timestamp.nonce.toString(),
    tsaName: timestamp.tsaName ?? null,
    messageImprint: {
      hashAlgorithm: timestamp.hashAlgorithm,
      hashAlgorithmOid: timestamp.hashAlgorithmOid,
      hashedMessage: timestamp.hashedMessage.toString('hex'),
    },
    extensions: timestamp.extensions.map((extension) => ({
      oid: extension.oid,
      critical: extension.critical,
      value: extension.valueHex,
    })),
    signer: {
      identifier: timestamp.signer.identifier,
      digestAlgorithm: timestamp.signer.digestAlgorithm,
      signatureAlgorithmOid: timestamp.signer.signatureAlgorithmOid,
      signingTime: timestamp.signer.signingTime ? rfc3339(timestamp.signer.signingTime) : null,
      signedAttributes: timestamp.signer.signedAttributes.map((attribute) => ({
        name: attribute.name,
        oid: attribute.oid,
        description: attribute.description,
        values: attribute.valuesHex,
      })),
    },
    certificates: timestamp.certificates.map((certificate) => ({
      subject: subjectText(certificate),
      issuer: certificate.x509.issuer.split('\n').join(', '),
      serialNumber: certificate.serialNumber.toString(16),
      notBefore: rfc3339(certificate.notBefore),
      notAfter: rfc3339(certificate.notAfter),
      sha256Fingerprint: createHash('sha256').update(certificate.der).digest('hex'),
    })),
    token: timestamp.tokenDer.toString('base64'),
  };
}
