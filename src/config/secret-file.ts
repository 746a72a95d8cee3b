/**
 * How an error names a file holding a secret that could not be opened (a secretFile option,
 * option-spec.ts, or --ledger-key): by its flag, never by the value, which is most often the secret
 * itself set where its path belongs. `--tls-key (the file it names): ENOENT`. A file that exists
 * but may not be read, or a folder, is named by its path too: no secret resolves to a file or
 * folder that exists, and the path is what to fix.
 */
export function unopenedSecretFile(flag: string, error: unknown): string {
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === 'EACCES' && path) {
    const uid = process.getuid?.();
    return `--${flag} ${path}: permission denied (EACCES)${uid === undefined ? '' : `: the server runs as uid ${uid}`}`;
  }
  if (code === 'EISDIR' && path) return `--${flag} ${path}: a folder, not a file (EISDIR)`;
  return `--${flag} (the file it names): ${code ?? 'failed'}`;
}
