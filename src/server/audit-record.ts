import type { FastifyRequest } from 'fastify';
import { integerToBigInt, oidToString, readElement, toHex } from '../asn1/der.js';
import type { IssueOutcome } from '../tsp/authority.js';
import type { TimeSourceSnapshot } from '../tsp/time-source.js';

/**
 * One line of the audit log. Only facts the TSA decided or validated; no client-chosen text
 * other than what the parser accepted (digest, nonce, policy OID).
 */
export interface AuditRecord {
  /** When the line was made (ISO 8601, milliseconds). */
  time: string;
  requestId: string;
  client: string;
  status: 'granted' | 'rejection';
  httpStatus: number;
  failInfo?: string;
  /** Serial number of a granted token, hex. */
  serialNumber?: string;
  genTime?: string;
  /** The token's messageImprint and request fields (present once the request was accepted). */
  hashAlgorithm?: string;
  hashedMessage?: string;
  /** The token's policy, dotted: the request's reqPolicy, else the default. */
  policy?: string;
  /** Nonce as a decimal integer string (exact; it may exceed 2^53). */
  nonce?: string;
  certReq?: boolean;
  /** A granted token's clock evidence at issuance: source, state, authenticated, offset, bound. */
  timeSource?: TimeSourceSnapshot;
  /** The profile that answered, in a server with named profiles. */
  profile?: string;
}

/** The line of a request answered `httpStatus`; without an outcome, one refused before the TSA. */
export function auditRecord(
  request: FastifyRequest,
  httpStatus: number,
  outcome: IssueOutcome | undefined,
  defaultPolicy: string,
): AuditRecord {
  const record: AuditRecord = {
    time: new Date().toISOString(),
    requestId: request.id,
    client: request.ip,
    status: outcome?.status ?? 'rejection',
    httpStatus,
  };
  if (outcome?.status === 'rejection') record.failInfo = outcome.failInfo;
  if (outcome?.status === 'granted') {
    record.serialNumber = outcome.serialNumber;
    record.genTime = outcome.genTime.toISOString();
    if (outcome.timeSource) record.timeSource = outcome.timeSource;
  }
  const accepted = outcome?.request;
  if (accepted) {
    record.hashAlgorithm = accepted.hash.name;
    record.hashedMessage = toHex(accepted.hashedMessage);
    record.policy = accepted.reqPolicy
      ? oidToString(readElement(accepted.reqPolicy).value)
      : defaultPolicy;
    if (accepted.nonce)
      record.nonce = integerToBigInt(readElement(accepted.nonce).value).toString();
    record.certReq = accepted.certReq;
  }
  if (outcome?.profile !== undefined) record.profile = outcome.profile;
  return record;
}
