import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '../../errors.js';

/** Where a Vault or OpenBao server is and how to authenticate, from the environment. */
export interface VaultConnection {
  address: string;
  token: string;
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
 * ~/.vault-token as Vault's default token helper does); `BAO_*` for OpenBao.
 */
export function vaultConnectionFromEnv(
  prefix: 'VAULT' | 'BAO',
  env: NodeJS.ProcessEnv = process.env,
): VaultConnection {
  const address = env[`${prefix}_ADDR`];
  if (!address) throw new VaultError('NO_ADDRESS', `${prefix}_ADDR is not set`);
  let token = env[`${prefix}_TOKEN`];
  const tokenFile = env[`${prefix}_TOKEN_FILE`];
  if (!token && tokenFile) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) {
    try {
      token = readFileSync(join(homedir(), '.vault-token'), 'utf8').trim();
    } catch {
      throw new VaultError(
        'NO_TOKEN',
        `no Vault token: set ${prefix}_TOKEN or ${prefix}_TOKEN_FILE`,
      );
    }
  }
  const namespace = env[`${prefix}_NAMESPACE`];
  return { address: address.replace(/\/+$/, ''), token, ...(namespace ? { namespace } : {}) };
}

/**
 * One Vault HTTP API call with plain fetch (node-vault would add axios, mustache and tv4 for three
 * endpoints, and its requests cannot take an AbortSignal). The token goes in a header only and
 * never into an error message.
 */
export async function vaultRequest(
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
