/** The gRPC status codes the Cloud KMS signer and KEK read (grpc/include/grpcpp/support/status_code_enum.h). */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  /** The highest code gRPC defines (UNAUTHENTICATED). */
  LAST: 16,
} as const;
