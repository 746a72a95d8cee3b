import { createPublicKey } from 'node:crypto';
import { Agent, EnvHttpProxyAgent } from 'undici';
import { type ProviderOptions, serviceLookup } from './provider-options.js';
import type { RemoteSignatureApi } from './remote-signer.js';
import { vaultConnectionFromEnv, vaultRequest, VaultError } from './vault-client.js';
import { SignerError } from '../signer-error.js';
import { looseKeyFilePermissions } from '../file/key-file-permissions.js';
import { KMS_URI_FORMATS, VAULT_KMS_URI } from '../../config/key-uri.js';

const HASH_PATHS = { sha256: 'sha2-256', sha384: 'sha2-384', sha512: 'sha2-512' } as const;
const SIGNING_KEY_TYPES = /^(ecdsa-p(256|384|521)|rsa-(2048|3072|4096))$/;

/** Parses `hashivault://<key>` or `openbao://<key>` (sigstore's name rule: no slashes). */
export function parseVaultUri(uri: string): { prefix: 'VAULT' | 'BAO'; keyName: string } {
  const match = VAULT_KMS_URI.exec(uri);
  if (!match?.[2]) throw new SignerError('INVALID_KEY_URI', KMS_URI_FORMATS.hashivault);
  return { prefix: match[1] === 'openbao' ? 'BAO' : 'VAULT', keyName: match[2] };
}

/**
 * Whether Node's own fetch goes through HTTP_PROXY, HTTPS_PROXY and NO_PROXY (NODE_USE_ENV_PROXY=1
 * or --use-env-proxy, Node 22.21+ and 24, the container's): the Vault calls, once made with that
 * fetch, then go through them too.
 */
export function nodeFetchUsesEnvProxy(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): boolean {
  const flags = [...execArgv, ...(env['NODE_OPTIONS']?.split(/\s+/) ?? [])];
  return flags.includes('--use-env-proxy') || env['NODE_USE_ENV_PROXY'] === '1';
}

/**
 * A Vault or OpenBao transit key. Signs the digest (`prehashed`) with PKCS#1 v1.5 for RSA (PSS when
 * the leaf certificate restricts the key to it), and pins
 * the key version read at start, so a rotation cannot silently sign with a key the leaf does not hold.
 */
export async function createVaultTransitApi(
  uri: string,
  options: ProviderOptions = {},
): Promise<RemoteSignatureApi> {
  const { prefix, keyName } = parseVaultUri(uri);
  const connection = vaultConnectionFromEnv(prefix);
  // The signer's own connections: their host (or the proxy's) resolved one lookup at a time.
  const connect = { lookup: serviceLookup(options) };
  const dispatcher = nodeFetchUsesEnvProxy()
    ? new EnvHttpProxyAgent({ connect })
    : new Agent({ connect });
  connection.dispatcher = dispatcher;
  // A token file is a secret file like a key file: warned about alike.
  if (connection.tokenFile && options.warn) {
    const loose = await looseKeyFilePermissions(connection.tokenFile);
    if (loose) options.warn(loose);
  }
  const mount = (process.env['TRANSIT_SECRET_ENGINE_PATH'] ?? 'transit').replace(/^\/+|\/+$/g, '');
  let keyVersion = 0;

  return {
    id: `${uri.slice(0, uri.indexOf(':'))}:${mount}/${keyName}`,
    async describeKey(signal) {
      const data = await vaultRequest(
        connection,
        'GET',
        `${mount}/keys/${keyName}`,
        undefined,
        signal,
      );
      const type = String(data['type']);
      if (!SIGNING_KEY_TYPES.test(type)) {
        throw new SignerError(
          'UNSUPPORTED_KEY',
          `transit key type ${type} cannot sign a digest: use ecdsa-p256/p384/p521 or rsa-2048/3072/4096`,
        );
      }
      keyVersion = Number(data['latest_version']);
      const versions = data['keys'] as Record<string, { public_key?: string }> | undefined;
      const pem = versions?.[String(keyVersion)]?.public_key;
      if (!pem)
        throw new SignerError(
          'BAD_ANSWER',
          `transit key ${keyName} has no public key for version ${keyVersion}`,
        );
      return { publicKey: createPublicKey(pem) };
    },
    async signDigest(digest, algorithm, signal) {
      const data = await vaultRequest(
        connection,
        'POST',
        `${mount}/sign/${keyName}/${HASH_PATHS[algorithm.hash]}`,
        {
          input: digest.toString('base64'),
          prehashed: true,
          key_version: keyVersion,
          // PSS: salt_length 'hash' (Vault's default 'auto' signs with the longest salt).
          ...(algorithm.keyType !== 'rsa'
            ? { marshaling_algorithm: 'asn1' }
            : algorithm.pss
              ? { signature_algorithm: 'pss', salt_length: 'hash' }
              : { signature_algorithm: 'pkcs1v15' }),
        },
        signal,
      );
      const signature = /^vault:v\d+:(.+)$/.exec(String(data['signature']))?.[1];
      if (!signature) throw new SignerError('BAD_ANSWER', 'Vault returned no signature');
      return Buffer.from(signature, 'base64');
    },
    isThrottling(error) {
      return error instanceof VaultError && error.status === 429;
    },
    close: () => dispatcher.destroy(),
  };
}
