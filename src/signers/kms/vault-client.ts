import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '../../errors.js';

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
}

export class VaultError extends CodedError<'NO_ADDRESS' | 'NO_TOKEN' | 'HTTP_ERROR' | 'NO_DATA'> {
  override name = 'VaultError';
  constructor(
    code: VaultError['code'],
    message: string,
    /** The HTTP status of a refused call (failure-reason.ts reads it). */
    readonly status?: number,
  ) {
    super(code, message);
  }
}

/**
 * Reads VAULT_ADDR, VAULT_NAMESPACE and the token (VAULT_TOKEN, else the file named by VAULT_TOKEN_FILE, else
 * ~/.vault-token as Vault's default token helper does); `BAO_*` for OpenBao. A token from a file is
 * read again when Vault refuses it (vaultRequest).
 */
export function vaultConnectionFromEnv(
  prefix: 'VAULT' | 'BAO',
  env: NodeJS.ProcessEnv = process.env,
): VaultConnection {
  const address = env[`${prefix}_ADDR`];
  if (!address) throw new VaultError('NO_ADDRESS', `${prefix}_ADDR is not set`);
  let token = env[`${prefix}_TOKEN`];
  let tokenFile = token ? undefined : env[`${prefix}_TOKEN_FILE`];
  if (tokenFile) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) {
    try {
      tokenFile = join(homedir(), '.vault-token');
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      throw new VaultError(
        'NO_TOKEN',
        `no Vault token: set ${prefix}_TOKEN or ${prefix}_TOKEN_FILE`,
      );
    }
  }
  const namespace = env[`${prefix}_NAMESPACE`];
  return {
    address: address.replace(/\/+$/, ''),
    token,
    ...(tokenFile ? { tokenFile } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

/**
 * One Vault HTTP API call with plain fetch (node-vault would add axios, mustache and tv4 for three
 * endpoints, and its requests cannot take an AbortSignal). The token goes in a header only and
 * never into an error message. A 403 with a token from a file reads the file again and, when it
 * holds another token, retries the call once with it (and keeps it for the next calls).
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
    if (fresh && fresh !== sentToken) connection.token = fresh;
    if (connection.token === sentToken) throw error;
    return vaultCall(connection, method, path, body, signal);
  }
}

/** The token in `path`, or undefined when the file is unreadable or empty (mid-rotation). */
async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function vaultCall(
  connection: VaultConnection,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${connection.address}/v1/${path}`, {
    method,
    headers: {
      'X-Vault-Token': connection.token,
      'content-type': 'application/json',
      ...(connection.namespace ? { 'X-Vault-Namespace': connection.namespace } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  if (!response.ok) {
    let detail = '';
    try {
      const errors = (JSON.parse(text) as { errors?: unknown }).errors;
      if (Array.isArray(errors)) detail = `: ${errors.map(String).join('; ').slice(0, 300)}`;
    } catch {
      // not JSON: the status says enough
    }
    throw new VaultError(
      'HTTP_ERROR',
      `Vault ${method} /v1/${path} failed with HTTP ${response.status}${detail}`,
      response.status,
    );
  }
  const parsed = JSON.parse(text) as { data?: unknown };
  if (typeof parsed.data !== 'object' || parsed.data === null)
    throw new VaultError('NO_DATA', `Vault /v1/${path}: no data in the answer`);
  return parsed.data as Record<string, unknown>;
}
