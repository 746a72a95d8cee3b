/**
 * A value no one means as a path: a PEM block, or several lines (a key pasted where its file's
 * path belongs, e.g. a Secret's key mapped onto the wrong variable).
 */
export function holdsKeyMaterial(value: unknown): boolean {
  return typeof value === 'string' && /[\r\n]|-----BEGIN/.test(value);
}

/**
 * A path as a message may quote it: a value holding key material is not quoted (a private key
 * given as --tls-certificate would otherwise be printed whole, in the FATAL line).
 */
export function shownPath(path: string): string {
  return holdsKeyMaterial(path)
    ? '(its value is not shown: it holds PEM content or line breaks, not a file path)'
    : path;
}
