import { type LookupFunction, Socket } from 'node:net';
import pg, { type PoolConfig } from 'pg';
import { ledgerUrlProblem } from '../config/ledger-url.js';
import { readSecret } from '../config/read-secret.js';
import { type HostLookups, oneLookupAtATime } from '../host-lookup.js';
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
/**
 * How long the client waits for any answer to a query (a database that stopped answering: SIGSTOP,
 * a partition) before it fails it ('Query read timeout'): a second beyond STATEMENT_TIMEOUT_MS, so
 * that a database that still answers cancels a slow statement itself first (57014), on a
 * connection that stays usable.
 */
export const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 1_000;
/**
 * The isolation level of every ledger connection's transactions, whatever the database's or role's
 * default_transaction_isolation: the commit's UPDATE of the counter row must wait for another
 * replica's commit and then go on (READ COMMITTED), where REPEATABLE READ or SERIALIZABLE would
 * fail it (40001). The sequencer's transactions are written for it too (the advisory lock makes
 * them the only writer of the log's tables).
 */
export const ISOLATION_OPTION = '-c default_transaction_isolation=read\\ committed';
/**
 * Every ledger connection waits for its commit's WAL flush, whatever the database's or role's
 * synchronous_commit: with `off` a commit returns before its flush, and a crash loses tokens
 * clients already hold (docs/ledger.md promises committed before the response). Added only where
 * the URL's own options (or PGOPTIONS) do not already choose a level that flushes locally.
 */
export const SYNCHRONOUS_COMMIT_OPTION = '-c synchronous_commit=on';
/** synchronous_commit's values (PostgreSQL's, any case) that wait for the local WAL flush. */
const FLUSHING_LEVELS = new Set([
  'on',
  'true',
  'yes',
  '1',
  'local',
  'remote_write',
  'remote_apply',
]);

/**
 * The synchronous_commit that libpq-style options (`-c name=value`, `-cname=value`,
 * `--name=value`; whitespace escaped with `\`) set last, as the server reads them; undefined
 * if none does.
 */
export function optionsSynchronousCommit(options: string): string | undefined {
  // pg_split_opts: words split at unescaped whitespace, a backslash escaping the next character.
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < options.length; i++) {
    let c = options[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      continue;
    }
    if (c === '\\' && i + 1 < options.length) c = options[++i]!;
    word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  let level: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let setting: string | undefined;
    if (w === '-c') setting = words[++i];
    else if (w.startsWith('--')) setting = w.slice(2);
    else if (w.startsWith('-c')) setting = w.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting === undefined || eq < 0) continue;
    // The server folds case and takes `-` in a name for `_`.
    const name = setting.slice(0, eq).toLowerCase().replaceAll('-', '_');
    if (name === 'synchronous_commit') level = setting.slice(eq + 1);
  }
  return level;
}

/** How long opening a connection may take. */
export const CONNECT_TIMEOUT_MS = 3_000;

/**
 * The startup options of every ledger connection: the user's first, then ours, which override
 * theirs (the server applies them in order), except a synchronous_commit of theirs that flushes.
 */
function connectionOptions(userOptions: string | null): string {
  const options = userOptions ? [userOptions, ISOLATION_OPTION] : [ISOLATION_OPTION];
  const level = userOptions ? optionsSynchronousCommit(userOptions) : undefined;
  if (level === undefined || !FLUSHING_LEVELS.has(level.toLowerCase())) {
    options.push(SYNCHRONOUS_COMMIT_OPTION);
  }
  return options.join(' ');
}

/** The process's lookups of the database's host: one at a time, as its pools open connections. */
const databaseLookups = oneLookupAtATime();

/**
 * pg's `stream` option: the socket of each new connection, which resolves the database's host
 * through `lookup` (pg's own would call dns.lookup, a thread of libuv's pool each). pg calls
 * connect(port, host), or connect(path) for a Unix socket, which is not looked up.
 */
function socketsResolvingWith(lookup: LookupFunction): () => Socket {
  return () => {
    const socket = new Socket();
    const connect = socket.connect.bind(socket) as (options: object) => Socket;
    return Object.assign(socket, {
      connect: (portOrPath: number | string, host?: string) =>
        typeof portOrPath === 'number'
          ? connect({ port: portOrPath, host, lookup })
          : connect({ path: portOrPath }),
    });
  };
}

/**
 * The pool settings for --ledger-url and --ledger-password-file. Errors name the flags, never the
 * URL (it may hold a password). `lookups` resolves the host (the tests' own resolver).
 */
export async function poolConfig(
  url: string,
  passwordFile: string,
  max: number,
  env: NodeJS.ProcessEnv = process.env,
  lookups: HostLookups = databaseLookups,
): Promise<PoolConfig> {
  const problem = ledgerUrlProblem(url, passwordFile);
  if (problem !== undefined) throw new LedgerError('CONFIG', problem.message);
  const parsed = new URL(url);
  // The URL's own `options` (libpq's: `-c name=value ...`) are kept, with ours last: a connection
  // string's parameters override the settings given beside it, so it goes there.
  // Without them, libpq's PGOPTIONS, which pg reads only when no `options` is given (ours is).
  const urlOptions = parsed.searchParams.get('options');
  const userOptions = urlOptions ?? env['PGOPTIONS'] ?? null;
  let connectionString = url;
  if (urlOptions !== null) {
    parsed.searchParams.delete('options');
    connectionString = parsed.toString();
  }
  const config: PoolConfig = {
    connectionString,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Client-side too: a database that stops answering (SIGSTOP, a dropped link) fails the query.
    query_timeout: QUERY_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    options: connectionOptions(userOptions),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'timestamp-server',
    stream: socketsResolvingWith(lookups.forSockets),
  };
  if (passwordFile !== '') {
    // Read now, so that a missing file fails the start naming the flag, then again for each new
    // connection: a rotated Secret (the file replaced) is used without a restart.
    await readPasswordFile(passwordFile);
    config.Client = clientWithPasswordFile(passwordFile);
  }
  return config;
}

/**
 * The password in --ledger-password-file (a final newline removed), read as every other secret
 * file is (config/read-secret.ts): errors name the flag and the file, never quote it.
 */
export function readPasswordFile(passwordFile: string): Promise<string> {
  return readSecret('', passwordFile, 'ledger-password');
}

/**
 * pg's Client with the password read from the file at each connection (pg calls a `password`
 * function when it connects). Set on the client, not in the pool's settings: the connection
 * string's (empty) password would override a `password` there.
 */
function clientWithPasswordFile(passwordFile: string): new () => pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // pg's types say string; pg itself (Client#_getPassword) takes a function too.
      (this as { password?: unknown }).password = () => readPasswordFile(passwordFile);
    }
  };
}
