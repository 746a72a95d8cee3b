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
 * A request the TSA will not grant. DER clients receive it as a TimeStampResp with
 * status rejection; JSON clients as `{code, message}`; both with `httpStatus`.
 */
export class TimeStampRejection extends Error {
  override name = 'TimeStampRejection';
  constructor(
    readonly failInfo: FailInfoName,
    readonly httpStatus: number,
    message: string,
    /** A fixed, more precise reason (never client input), sent as a second statusString. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export const reject = {
  malformed: (detail: string) =>
    new TimeStampRejection(
      'badDataFormat',
      400,
      GO_MESSAGES.generic,
      `malformed request: ${detail}`,
    ),
  badVersion: () =>
    new TimeStampRejection(
      'badRequest',
      400,
      GO_MESSAGES.generic,
      'TimeStampReq version must be 1',
    ),
  weakHash: () => new TimeStampRejection('badAlg', 400, GO_MESSAGES.weakHash),
  unsupportedHash: () =>
    new TimeStampRejection(
      'badAlg',
      400,
      GO_MESSAGES.generic,
      'unsupported hash algorithm: use SHA-256, SHA-384 or SHA-512',
    ),
  hashParameters: () =>
    new TimeStampRejection(
      'badAlg',
      400,
      GO_MESSAGES.generic,
      'hash algorithm parameters must be absent or NULL',
    ),
  digestLength: () => new TimeStampRejection('badDataFormat', 400, GO_MESSAGES.digestLength),
  unacceptedPolicy: () =>
    new TimeStampRejection('unacceptedPolicy', 400, GO_MESSAGES.unacceptedPolicy),
  unacceptedExtension: (detail?: string) =>
    new TimeStampRejection('unacceptedExtension', 400, GO_MESSAGES.unacceptedExtension, detail),
  jsonTooLarge: () => new TimeStampRejection('badDataFormat', 400, GO_MESSAGES.jsonTooLarge),
  oidTooLong: () => new TimeStampRejection('badDataFormat', 400, GO_MESSAGES.oidTooLong),
  timeNotAvailable: (detail: string) =>
    new TimeStampRejection('timeNotAvailable', 503, GO_MESSAGES.generic, detail),
  systemFailure: (detail?: string) =>
    new TimeStampRejection('systemFailure', 500, GO_MESSAGES.generic, detail),
};
