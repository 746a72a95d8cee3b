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
