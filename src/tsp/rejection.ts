import { CodedError } from '../errors.js';

/** RFC 3161 PKIFailureInfo bit numbers. */
export const FailInfo = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;

export type FailInfoName = keyof typeof FailInfo;

/** The Go server's messages; clients and dashboards match on them. */
export const GO_MESSAGES = {
  generic: 'Error generating timestamp response',
  weakHash: 'Weak hash algorithm in timestamp request',
  digestLength: 'Message digest has incorrect length for specified algorithm',
  unacceptedPolicy: 'unaccepted policy: requested TSA policy is not supported by the TSA',
  unacceptedExtension: 'unaccepted extension: requested extensions are not supported by the TSA',
  jsonTooLarge: 'timestamp request is too large',
  oidTooLong: 'OID should be comprised of at most 128 components',
} as const;

/**
 * A request the TSA will not grant: its failInfo and the Go server's message. DER clients receive
 * it as a TimeStampResp with status rejection; how others see it is the server's business.
 */
export class TimeStampRejection extends CodedError<FailInfoName> {
  override name = 'TimeStampRejection';
  constructor(
    readonly failInfo: FailInfoName,
    message: string,
    /** A fixed, more precise reason (never client input), sent as a second statusString. */
    readonly detail?: string,
    /**
     * Something the TSA depends on is unavailable for now (the ledger database, a signer whose
     * circuit breaker is open), not broken: the same request should succeed later. The failInfo
     * stays what RFC 3161 says (systemFailure); the server tells the client when to retry.
     */
    readonly temporary = false,
    /** For a temporary one, how long it is expected to last (ms), where that is known. */
    readonly retryInMs?: number,
    /**
     * What readiness says where `detail` is kept short for clients: the whole reason, which names
     * what only operators may read (a PIN refused: the key's labels, the PIN file's path).
     */
    readonly operatorDetail?: string,
  ) {
    super(failInfo, message);
  }
}

export const reject = {
  malformed: (detail: string) =>
    new TimeStampRejection('badDataFormat', GO_MESSAGES.generic, `malformed request: ${detail}`),
  badVersion: () =>
    new TimeStampRejection('badRequest', GO_MESSAGES.generic, 'TimeStampReq version must be 1'),
  weakHash: () => new TimeStampRejection('badAlg', GO_MESSAGES.weakHash),
  unsupportedHash: () =>
    new TimeStampRejection(
      'badAlg',
      GO_MESSAGES.generic,
      'unsupported hash algorithm: use SHA-256, SHA-384 or SHA-512',
    ),
  hashParameters: () =>
    new TimeStampRejection(
      'badAlg',
      GO_MESSAGES.generic,
      'hash algorithm parameters must be absent or NULL',
    ),
  digestLength: () => new TimeStampRejection('badDataFormat', GO_MESSAGES.digestLength),
  unacceptedPolicy: () => new TimeStampRejection('unacceptedPolicy', GO_MESSAGES.unacceptedPolicy),
  unacceptedExtension: (detail?: string) =>
    new TimeStampRejection('unacceptedExtension', GO_MESSAGES.unacceptedExtension, detail),
  jsonTooLarge: () => new TimeStampRejection('badDataFormat', GO_MESSAGES.jsonTooLarge),
  oidTooLong: () => new TimeStampRejection('badDataFormat', GO_MESSAGES.oidTooLong),
  /** A token its record (the ledger) cannot hold whole: never granted, so never lost. */
  tokenTooLarge: (maxOctets: number) =>
    new TimeStampRejection(
      'badRequest',
      GO_MESSAGES.generic,
      `the token would be larger than the ${maxOctets} octets a log entry holds: send smaller extensions`,
    ),
  timeNotAvailable: (detail: string) =>
    new TimeStampRejection('timeNotAvailable', GO_MESSAGES.generic, detail),
  systemFailure: (detail?: string, operatorDetail?: string) =>
    new TimeStampRejection(
      'systemFailure',
      GO_MESSAGES.generic,
      detail,
      false,
      undefined,
      operatorDetail,
    ),
  /**
   * systemFailure because something the TSA depends on is unavailable for now (an outage, a full
   * queue, an open circuit breaker): flagged temporary, so that clients are told to retry. Never
   * for a fault a retry would not mend (an expired certificate, a signature that failed).
   */
  unavailable: (detail: string, retryInMs?: number, operatorDetail?: string) =>
    new TimeStampRejection(
      'systemFailure',
      GO_MESSAGES.generic,
      detail,
      true,
      retryInMs,
      operatorDetail,
    ),
};
