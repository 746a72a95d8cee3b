/**
 * Why --ledger-url, beside --ledger-password-file (`passwordFile`, '' when not given), is refused,
 * or undefined; never quoting the URL (it may hold a password; URL's own error quotes it whole).
 * Checked with the other options (config/rules.ts: exit 2 before anything starts) and again where
 * the pool is configured (ledger/connection.ts), for a configuration built without them.
 */
export function ledgerUrlProblem(url: string, passwordFile: string): LedgerUrlProblem | undefined {
  const invalid = (message: string) => ({ kind: 'invalid', message }) as const;
  if (!/^postgres(ql)?:\/\//.test(url))
    return invalid('--ledger-url must be a postgres:// or postgresql:// URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return invalid('--ledger-url is not a valid URL');
  }
  // `?password=` too: pg-connection-string would take it over the file's, silently.
  if (passwordFile !== '' && (parsed.password !== '' || parsed.searchParams.has('password'))) {
    return {
      kind: 'conflict',
      message:
        'set the ledger password either in --ledger-url or in --ledger-password-file, not both',
    };
  }
  return undefined;
}

/** A refused --ledger-url: a value that is not one, or one at odds with another option. */
export interface LedgerUrlProblem {
  kind: 'invalid' | 'conflict';
  message: string;
}
