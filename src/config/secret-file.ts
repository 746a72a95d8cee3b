/**
 * How an error names a file holding a secret that could not be opened (a secretFile option,
 * option-spec.ts, or --ledger-key): by its flag, never by the value, which is most often the secret
 * itself set where its path belongs. `--tls-key (the file it names): ENOENT`. EACCES says as whom
 * the server reads (a folder on the way may be the one refused: the value is not shown then
 * either).
 */
export function unopenedSecretFile(flag: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? 'failed';
  const uid = process.getuid?.();
  const as = code === 'EACCES' && uid !== undefined ? ` (permission denied to uid ${uid})` : '';
  return `--${flag} (the file it names): ${code}${as}`;
}
