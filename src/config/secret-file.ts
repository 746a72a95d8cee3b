/**
 * How an error names a file holding a secret that could not be opened (a secretFile option,
 * option-spec.ts, or --ledger-key): by its flag, never by the value, which is most often the secret
 * itself set where its path belongs. `--tls-key (the file it names): ENOENT`.
 */
export function unopenedSecretFile(flag: string, error: unknown): string {
  return `--${flag} (the file it names): ${(error as NodeJS.ErrnoException).code ?? 'failed'}`;
}
