import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Dispatcher, fetch, type Response } from 'undici';
import { collectCapped } from '../../capped-read.js';
import { answerTooLarge, MAX_ANSWER_BYTES } from './answer-cap.js';
import { CodedError, errorCodeOf } from '../../errors.js';
import { checkedServiceUrl } from './endpoint-override.js';
import { serviceTextExcerpt } from './failure-reason.js';

/** Where a Vault or OpenBao server is and how to authenticate, from the environment. */
export interface VaultConnection {
  address: string;
  /** Replaced when a refused call finds a new token in `tokenFile`. */
  token: string;
  /**
   * The file the token was read from (VAULT_TOKEN_FILE or ~/.vault-token): Vault Agent or a
   * rotated Kubernetes Secret writes a new token there, and the old one stops working.
   */
  tokenFile?: string;
  /** Vault Enterprise / OpenBao namespace (X-Vault-Namespace). */
  namespace?: string;
  /** The connections the calls go through (a signer's own pool); else undici's global one. */
  dispatcher?: Dispatcher;
}

export class VaultError extends CodedError<
  | 'NO_ADDRESS'
  | 'BAD_ADDRESS'
  | 'NO_TOKEN'
  | 'BAD_TOKEN'
  | 'HTTP_ERROR'
  | 'REQUEST_FAILED'
  | 'NO_DATA'
  | 'BAD_ANSWER'
> {
  override name = 'VaultError';
  constructor(
    code: VaultError['code'],
    message: string,
    /** The HTTP status of a refused call (failure-reason.ts reads it). */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * Why `token` cannot be a Vault token, or undefined if it can. A token travels in the X-Vault-Token
 * header, whose value fetch refuses with an error that quotes it (a CR or LF: a token file with a
 * second line); Vault's tokens are visible ASCII, so anything else is refused before any call, and
 * the caller's message names where the token came from, never the token.
 */
export function vaultTokenProblem(token: string): string | undefined {
  if (token === '') return 'is empty';
  if (!/^[\x21-\x7e]+$/.test(token))
    return 'does not hold a single Vault token: it has a space, a line break or a character no token has';
  return undefined;
}

/**
 * The Vault address in `value` (from `source`, which errors name), without a trailing slash,
 * checked as any service URL (checkedServiceUrl): never quoted, no credentials, query or
 * fragment (fetch refuses a URL with credentials with a message that quotes it).
 */
export function vaultAddress(value: string, source: string): string {
  const url = checkedServiceUrl(
    value,
    source,
    { example: 'https://vault.example:8200', credentials: 'authenticate with a Vault token' },
    (message) => new VaultError('BAD_ADDRESS', message),
  );
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Reads VAULT_ADDR, VAULT_NAMESPACE and the token (VAULT_TOKEN, else the file named by
 * VAULT_TOKEN_FILE, else ~/.vault-token as Vault's default token helper does); `BAO_*` for OpenBao.
 * A token from a file is read again when Vault refuses it (vaultRequest). A token file that was
 * named but is empty or unreadable is an error, not a reason to use ~/.vault-token: that would
 * sign with someone's personal token, and re-read it instead of the named file.
 */
export function vaultConnectionFromEnv(
  prefix: 'VAULT' | 'BAO',
  env: NodeJS.ProcessEnv = process.env,
): VaultConnection {
  const address = env[`${prefix}_ADDR`];
  if (!address) throw new VaultError('NO_ADDRESS', `${prefix}_ADDR is not set`);
  const namespace = env[`${prefix}_NAMESPACE`];
  return {
    address: vaultAddress(address, `${prefix}_ADDR`),
    ...tokenFromEnv(prefix, env),
    ...(namespace ? { namespace } : {}),
  };
}

function tokenFromEnv(
  prefix: 'VAULT' | 'BAO',
  env: NodeJS.ProcessEnv,
): { token: string; tokenFile?: string } {
  const inline = env[`${prefix}_TOKEN`];
  if (inline) return { token: checkedToken(inline, `${prefix}_TOKEN`) };
  const named = env[`${prefix}_TOKEN_FILE`];
  if (named) {
    const token = readTokenFileSync(named, `${prefix}_TOKEN_FILE ${named}`);
    return { token: checkedToken(token, `${prefix}_TOKEN_FILE ${named}`), tokenFile: named };
  }
  const helperFile = join(homedir(), '.vault-token');
  let token: string;
  try {
    token = readFileSync(helperFile, 'utf8').trim();
  } catch {
    token = '';
  }
  if (!token)
    throw new VaultError('NO_TOKEN', `no Vault token: set ${prefix}_TOKEN or ${prefix}_TOKEN_FILE`);
  return { token: checkedToken(token, helperFile), tokenFile: helperFile };
}

/** The token file's content without the whitespace at its ends (an editor's final newline). */
function readTokenFileSync(path: string, source: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'failed';
    throw new VaultError('NO_TOKEN', `${source}: cannot read it (${reason})`);
  }
}

function checkedToken(token: string, source: string): string {
  const problem = vaultTokenProblem(token);
  if (problem)
    throw new VaultError(token === '' ? 'NO_TOKEN' : 'BAD_TOKEN', `${source} ${problem}`);
  return token;
}

/**
 * One Vault HTTP API call with undici's fetch (the npm package; Node's global fetch is built on an
 * older undici), which takes the connection's dispatcher (node-vault would add axios, mustache and
 * tv4 for three endpoints, and its requests cannot take an AbortSignal). The token goes in a header only and
 * never into an error message. A 403 with a token from a file reads the file again and, when it
 * holds another token, retries the call once with it (and keeps it for the next calls); a file
 * that no longer holds a usable token leaves the 403, with what is wrong with the file.
 */
export async function vaultRequest(
  connection: VaultConnection,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const sentToken = connection.token;
  try {
    return await vaultCall(connection, method, path, body, signal);
  } catch (error) {
    if (!(error instanceof VaultError && error.status === 403) || !connection.tokenFile)
      throw error;
    const fresh = await readTokenFile(connection.tokenFile);
    // Another call may have found the new token meanwhile: retry with whatever is newer.
    if ('token' in fresh && fresh.token !== sentToken) connection.token = fresh.token;
    if (connection.token !== sentToken) return vaultCall(connection, method, path, body, signal);
    if ('problem' in fresh) {
      throw new VaultError(
        'HTTP_ERROR',
        `${error.message} (re-reading ${connection.tokenFile}: it ${fresh.problem})`,
        error.status,
      );
    }
    throw error;
  }
}

/** The token in `path`, or why it holds none now (unreadable, empty mid-rotation, malformed). */
async function readTokenFile(path: string): Promise<{ token: string } | { problem: string }> {
  let token: string;
  try {
    token = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    return { problem: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'failed'})` };
  }
  const problem = vaultTokenProblem(token);
  return problem ? { problem } : { token };
}

/** Redirects followed for one call: a standby names the active node, which answers. */
const MAX_VAULT_REDIRECTS = 3;

/**
 * `send` to `url`, following redirects as Vault's own client does: 307 and 308 only (the method
 * and body kept; a 301, 302 or 303 is answered as the error it is), to the node the Location
 * names (a performance standby names the active one), at most MAX_VAULT_REDIRECTS times, and
 * never from https to http, where the token would travel in the clear. fetch followed any
 * redirect, to any scheme.
 */
async function fetchFollowingVaultRedirects(
  address: string,
  send: (url: string) => Promise<Response>,
  call: string,
): Promise<Response> {
  // A string, as fetch parses it: an address that is no URL fails there, as a request error whose
  // cause has a code and no URL (a URL made here would throw one that quotes it).
  let url = address;
  for (let redirects = 0; ; redirects++) {
    const response = await send(url);
    const location = response.headers.get('location');
    if ((response.status !== 307 && response.status !== 308) || location === null) return response;
    await response.body?.cancel();
    if (redirects === MAX_VAULT_REDIRECTS)
      throw new VaultError('HTTP_ERROR', `${call}: more than ${MAX_VAULT_REDIRECTS} redirects`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new VaultError('HTTP_ERROR', `${call}: redirected to a Location that is not a URL`);
    }
    if (/^https:/i.test(url) && next.protocol !== 'https:')
      throw new VaultError(
        'HTTP_ERROR',
        `${call}: redirected from https to ${next.protocol.slice(0, -1)}: refused, the token would travel in the clear`,
      );
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new VaultError('HTTP_ERROR', `${call}: redirected to a ${next.protocol} URL`);
    url = next.href;
  }
}

async function vaultCall(
  connection: VaultConnection,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  // Every source checks its token; this guards one that did not (fetch would quote it).
  if (vaultTokenProblem(connection.token))
    throw new VaultError('BAD_TOKEN', 'the Vault token is malformed; it was not sent');
  let response: Response;
  try {
    response = await fetchFollowingVaultRedirects(
      `${connection.address}/v1/${path}`,
      (url) =>
        fetch(url, {
          method,
          headers: {
            'X-Vault-Token': connection.token,
            'content-type': 'application/json',
            ...(connection.namespace ? { 'X-Vault-Namespace': connection.namespace } : {}),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          redirect: 'manual',
          ...(signal ? { signal } : {}),
          ...(connection.dispatcher ? { dispatcher: connection.dispatcher } : {}),
        }),
      `Vault ${method} /v1/${path}`,
    );
  } catch (error) {
    // fetch's TypeError, and its cause's fields (ERR_INVALID_URL's `input`), may quote the URL,
    // password and all: only the cause's code is kept, in the message and as a cause of its own
    // for failure-reason.ts (ECONNREFUSED is a `connection` failure). An abort passes as it is.
    if (!(error instanceof TypeError)) throw error;
    const code = errorCodeOf(error.cause);
    throw new VaultError(
      'REQUEST_FAILED',
      `Vault ${method} /v1/${path}: request failed (${code ?? error.name})`,
      undefined,
      code ? { cause: new CodedError(code, code) } : undefined,
    );
  }
  const text = await answerText(response, method, path);
  if (!response.ok) {
    let detail = '';
    try {
      const errors = (JSON.parse(text) as { errors?: unknown }).errors;
      if (Array.isArray(errors)) detail = `: ${serviceTextExcerpt(errors.map(String).join('; '))}`;
    } catch {
      // not JSON: the status says enough
    }
    throw new VaultError(
      'HTTP_ERROR',
      `Vault ${method} /v1/${path} failed with HTTP ${response.status}${detail}`,
      response.status,
    );
  }
  let parsed: { data?: unknown };
  try {
    parsed = JSON.parse(text) as { data?: unknown };
  } catch {
    // A proxy's page, or not Vault at all: no status kept, it is no refusal (failure-reason.ts).
    const type = response.headers.get('content-type');
    throw new VaultError(
      'BAD_ANSWER',
      `Vault ${method} /v1/${path}: HTTP ${response.status}${type ? ` (${serviceTextExcerpt(type, 80)})` : ''} answer is not JSON: "${serviceTextExcerpt(text, 298)}"`,
    );
  }
  // JSON's null (or a number, a string) is no object with data either.
  const data = (parsed as { data?: unknown } | null)?.data;
  if (typeof data !== 'object' || data === null)
    throw new VaultError('NO_DATA', `Vault /v1/${path}: no data in the answer`);
  return data as Record<string, unknown>;
}

async function answerText(response: Response, method: string, path: string): Promise<string> {
  if (!response.body) return '';
  // Past the cap, leaving the loop cancels the body, which closes the connection.
  const bytes = await collectCapped(
    response.body as AsyncIterable<Uint8Array>,
    MAX_ANSWER_BYTES,
    () =>
      new VaultError('BAD_ANSWER', answerTooLarge(`Vault ${method} /v1/${path}`, response.status)),
  );
  return bytes.toString('utf8');
}
