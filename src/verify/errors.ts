/** A token that does not verify. The message names the problem, in the Go library's words. */
export class VerificationError extends Error {
  override name = 'VerificationError';
}

/** Throws a VerificationError with `message` unless `condition` holds. */
export function ensure(condition: unknown, message: string): asserts condition {
  if (!condition) throw new VerificationError(message);
}
