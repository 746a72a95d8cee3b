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
 * The frames of V8's stack, which follow the error's `name: message` header, each on its own
 * line: where an error was thrown, without what it says (its message may quote a secret). None
 * when the stack does not start with that header (a message changed after the error was made), as
 * the frames could not be told from the message then.
 */
export function stackFrames(error: unknown): string {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return '';
  const header = error.message ? `${error.name}: ${error.message}` : error.name;
  if (!error.stack.startsWith(`${header}\n`)) return '';
  return `${error.stack.slice(header.length + 1)}\n`;
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
