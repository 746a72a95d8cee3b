/**
 * The one error shape of the project (the sigstore-js pattern): each module declares a class that
 * extends `CodedError` with its own union of `code` literals, and wraps what it caught as `cause`.
 * Callers branch on `code`, never on message text; the CLI maps codes to an exit status and one line.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * `error`'s code when it is a constant's name (ECONNREFUSED, ERR_INVALID_URL), else undefined: what
 * an error may say of a library's error whose message could quote a secret (a URL with its
 * password, a line of a credentials file).
 */
export function errorCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : undefined;
}
