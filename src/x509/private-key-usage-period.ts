import { contextTag, DerSequenceReader, readExactly, Tag } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import type { Certificate } from './certificate.js';
import { X509Error } from './x509-error.js';

/**
 * When the certificate's private key may sign (X.509 section 9.2.2.5, RFC 3280 section 4.2.1.4):
 * a TSA's certificate may stop the key's signing before the certificate expires, so that its
 * tokens stay verifiable after the last one is issued. An absent bound leaves that side to the
 * certificate's validity.
 */
export interface PrivateKeyUsagePeriod {
  notBefore?: Date;
  notAfter?: Date;
}

/** GeneralizedTime as RFC 5280 section 4.1.2.5.2 has it in certificates: YYYYMMDDHHMMSSZ. */
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

function readGeneralizedTime(content: Uint8Array, field: string): Date {
  const text = Buffer.from(content).toString('latin1');
  const match = GENERALIZED_TIME.exec(text);
  const [year, month, day, hour, minute, second] = (match?.slice(1, 7) ?? []).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC carries month 13 or February 30 over; a field out of range does not come back.
  if (
    !match ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  )
    throw new X509Error(
      'INVALID_EXTENSION',
      `its ${field} ${JSON.stringify(text)} is not a GeneralizedTime YYYYMMDDHHMMSSZ`,
    );
  return date;
}

/**
 * The certificate's privateKeyUsagePeriod, or undefined without one. PrivateKeyUsagePeriod ::=
 * SEQUENCE { notBefore [0] GeneralizedTime OPTIONAL, notAfter [1] GeneralizedTime OPTIONAL },
 * implicitly tagged. Throws an X509Error when it does not follow that definition, has neither
 * bound, or ends before it begins.
 */
export function privateKeyUsagePeriod(certificate: Certificate): PrivateKeyUsagePeriod | undefined {
  const extension = certificate.extensions.find(({ oid }) => oid === OID.privateKeyUsagePeriod);
  if (!extension) return undefined;
  const period: PrivateKeyUsagePeriod = {};
  try {
    const reader = new DerSequenceReader(readExactly(extension.value, Tag.SEQUENCE).value);
    const notBefore = reader.optional(contextTag(0, false));
    const notAfter = reader.optional(contextTag(1, false));
    reader.end();
    // RFC 3280 section 4.2.1.4: "at least one of the two components is present"; an empty one
    // would say nothing, and timestamp-cli verify refuses the tokens of its key.
    if (!notBefore && !notAfter)
      throw new X509Error('INVALID_EXTENSION', 'it has neither notBefore nor notAfter');
    if (notBefore) period.notBefore = readGeneralizedTime(notBefore.value, 'notBefore');
    if (notAfter) period.notAfter = readGeneralizedTime(notAfter.value, 'notAfter');
  } catch (error) {
    if (error instanceof X509Error) throw error;
    throw new X509Error(
      'INVALID_EXTENSION',
      `it is not a PrivateKeyUsagePeriod: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (period.notBefore && period.notAfter && period.notAfter < period.notBefore)
    throw new X509Error(
      'INVALID_EXTENSION',
      `it ends (${period.notAfter.toISOString()}) before it begins (${period.notBefore.toISOString()})`,
    );
  return period;
}
