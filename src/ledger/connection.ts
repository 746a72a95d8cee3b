import { readFile } from 'node:fs/promises';
import type { PoolConfig } from 'pg';
import { LedgerError } from './errors.js';

/**
 * Query parameters of a connection URL that carry a secret: pg-connection-string copies every
 * query parameter into the connection settings, and a `password` there wins over the userinfo's.
 * Any parameter whose name holds "password" (sslpassword, libpq's) counts, in any case.
 */
function isSecretParameter(name: string): boolean {
  return name.toLowerCase().includes('password');
}

/**
 * The URL with its passwords (userinfo, `password` and `sslpassword` query parameters) replaced
 * by `***`: the only form that may be logged.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const name of new Set(parsed.searchParams.keys())) {
      if (isSecretParameter(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** How long one statement may take before the database counts as unavailable. */
export const STATEMENT_TIMEOUT_MS = 5_000;
/** How long opening a connection may take. */
export const CONNECT_TIMEOUT_MS = 3_000;

/**
 * The pool settings for --ledger-url and --ledger-password-file. Errors name the flags, never the
 * URL (it may hold a password).
 */
export async function poolConfig(
  url: string,
  passwordFile: string,
  max: number,
): Promise<PoolConfig> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not the parser's error as cause: it quotes the URL, password included.
    throw new LedgerError('CONFIG', '--ledger-url is not a valid URL');
  }
  const config: PoolConfig = {
    connectionString: url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Client-side too: a database that stops answering (SIGSTOP, a dropped link) fails the query.
    query_timeout: STATEMENT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'timestamp-server',
  };
  if (passwordFile !== '') {
    // `?password=` too: pg-connection-string would take it over the file's, silently.
    if (parsed.password !== '' || parsed.searchParams.has('password')) {
      throw new LedgerError(
        'CONFIG',
        'set the ledger password either in --ledger-url or in --ledger-password-file, not both',
      );
    }
    let text: string;
    try {
      text = await readFile(passwordFile, 'utf8');
    } catch (error) {
      throw new LedgerError(
        'CONFIG',
        `reading --ledger-password-file ${passwordFile}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`,
      );
    }
    // In the URL: pg's connection-string parser would override a separate `password`.
    parsed.password = encodeURIComponent(text.replace(/\r?\n$/, ''));
    config.connectionString = parsed.toString();
  }
  return config;
}
