export { VerificationError, type VerificationErrorCode } from './errors.js';
export { parseTimestampResponse, parseTimestampToken, type ParsedToken } from './parse-response.js';
export { verifySignerInfo } from './cms-signer.js';
export {
  verifyTimestampResponse,
  type ArtifactInput,
  type CertificateInput,
  type VerifyOptions,
} from './verify-timestamp.js';
export { timestampToJson, type TimestampJson } from './timestamp-json.js';
export type { Accuracy, SignedAttribute, Timestamp } from './timestamp.js';
export type { CertificateView } from './certificate-view.js';
export {
  readTrustedRoot,
  verifyWithTrustedRoot,
  type TimestampAuthorityEntry,
} from './trusted-root.js';
export {
  RequestVerificationError,
  verifyTimestampRequest,
  type CheckedRequest,
  type RequestErrorCode,
} from './verify-request.js';
