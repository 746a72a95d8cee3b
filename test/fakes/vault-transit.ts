import { Faults } from './faults.js';
import { listen, resetConnection, sendJson, sendPage } from './http-server.js';
import {
  generateFakeKey,
  openWith,
  sealWith,
  signDigest,
  type FakeKey,
  type FakeKeyKind,
} from './keys.js';

const VAULT_TYPES: Record<FakeKeyKind, string> = {
  'ec-p256': 'ecdsa-p256',
  'ec-p384': 'ecdsa-p384',
  'ec-p521': 'ecdsa-p521',
  'rsa-2048': 'rsa-2048',
  'rsa-3072': 'rsa-3072',
  'rsa-4096': 'rsa-4096',
  ed25519: 'ed25519',
  'aes-256': 'aes256-gcm96',
};
const HASHES: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
};

/**
 * A fake Vault/OpenBao transit engine over its REST API: read key, sign (prehashed, pkcs1v15 for
 * RSA), decrypt; X-Vault-Token checked. Errors use Vault's `{"errors": [...]}` shape.
 */
export async function startFakeVault(options: { token: string; mount?: string }) {
  const mount = options.mount ?? 'transit';
  const faults = new Faults();
  const keys = new Map<string, FakeKey>();
  /** Request bodies seen, by operation, for assertions on what clients send. */
  const requests: { operation: string; body: Record<string, unknown>; namespace?: string }[] = [];
  /** The one token accepted; setToken replaces it (the old one revoked or expired). */
  let token = options.token;
  /** Calls refused with 403 for a token that is not the accepted one. */
  let denied = 0;

  const http = await listen(async (request, rawBody, response) => {
    const url = new URL(request.url ?? '/', 'http://vault');
    const parts = url.pathname.split('/').filter(Boolean); // v1, mount..., op, name[, hash]
    const mountParts = mount.split('/');
    const inMount =
      parts[0] === 'v1' && mountParts.every((part, index) => parts[index + 1] === part);
    const [operation = '', name = '', hashPath] = inMount ? parts.slice(1 + mountParts.length) : [];
    const fault = await faults.decide(operation);
    if (fault === 'hang') return;
    if (fault === 'reset') return resetConnection(request);
    if (fault === 'page') return sendPage(response);
    if (fault === 'throttle')
      return sendJson(response, 429, { errors: ['rate limit quota exceeded'] });
    if (fault === 'error')
      return sendJson(response, faults.errorStatus ?? 500, { errors: ['internal error'] });
    if (request.headers['x-vault-token'] !== token) {
      denied++;
      return sendJson(response, 403, { errors: ['permission denied'] });
    }
    const key = keys.get(name);
    if (!inMount || !key) return sendJson(response, 404, { errors: [] });
    const body =
      rawBody.length > 0 ? (JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>) : {};
    const namespace = request.headers['x-vault-namespace'];
    requests.push({ operation, body, ...(typeof namespace === 'string' ? { namespace } : {}) });
    const type = VAULT_TYPES[key.kind];

    if (operation === 'keys' && request.method === 'GET') {
      const version = key.publicKey
        ? {
            name: type,
            public_key: key.publicKey.export({ type: 'spki', format: 'pem' }),
            creation_time: '2026-01-01T00:00:00Z',
          }
        : 1_767_225_600;
      return sendJson(response, 200, {
        data: { name, type, latest_version: 1, min_decryption_version: 1, keys: { '1': version } },
      });
    }
    if (operation === 'sign' && (request.method === 'POST' || request.method === 'PUT')) {
      const hash = HASHES[hashPath ?? 'sha2-256'];
      if (!hash || !key.privateKey)
        return sendJson(response, 400, { errors: ['key type does not support signing'] });
      if (body['prehashed'] !== true)
        return sendJson(response, 400, { errors: ['this fake signs prehashed input only'] });
      const scheme = body['signature_algorithm'] ?? 'pss'; // Vault's default for RSA keys
      if (key.kind.startsWith('rsa-') && scheme !== 'pkcs1v15' && scheme !== 'pss') {
        return sendJson(response, 400, { errors: [`unsupported signature algorithm ${scheme}`] });
      }
      const input = Buffer.from(String(body['input']), 'base64');
      // salt_length: 'auto' (the default) is the longest salt, 'hash' the hash's length.
      const saltLength = body['salt_length'] ?? 'auto';
      const pss =
        key.kind.startsWith('rsa-') && scheme === 'pss'
          ? { saltLength: saltLength === 'hash' ? input.length : ('max' as const) }
          : undefined;
      const signature = await signDigest(key, input, hash, pss);
      return sendJson(response, 200, {
        data: { signature: `vault:v1:${signature.toString('base64')}`, key_version: 1 },
      });
    }
    if (operation === 'decrypt' && (request.method === 'POST' || request.method === 'PUT')) {
      const ciphertext = /^vault:v1:(.+)$/.exec(String(body['ciphertext']))?.[1];
      const context = Buffer.from(String(body['context'] ?? ''), 'base64');
      try {
        const plaintext = openWith(key, Buffer.from(ciphertext ?? '', 'base64'), context);
        return sendJson(response, 200, { data: { plaintext: plaintext.toString('base64') } });
      } catch {
        return sendJson(response, 400, { errors: ['cipher: message authentication failed'] });
      }
    }
    return sendJson(response, 405, { errors: [] });
  });

  return {
    ...http,
    faults,
    requests,
    mount,
    /** Calls refused for their token so far. */
    denied: () => denied,
    /** Accepts `next` and no longer the token before it, as after a renewal to a new token. */
    setToken(next: string) {
      token = next;
    },
    createKey(name: string, kind: FakeKeyKind) {
      const key = generateFakeKey(kind);
      keys.set(name, key);
      return key;
    },
    /** Transit encrypt: the `vault:v1:...` ciphertext string (context binds like Vault's derived keys). */
    encrypt(name: string, plaintext: Uint8Array, context: Uint8Array = Buffer.alloc(0)): string {
      const key = keys.get(name);
      if (!key) throw new Error(`no key ${name}`);
      return `vault:v1:${sealWith(key, plaintext, context).toString('base64')}`;
    },
  };
}
