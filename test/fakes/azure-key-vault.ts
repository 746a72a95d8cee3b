import { randomBytes, randomUUID } from 'node:crypto';
import { Faults } from './faults.js';
import { listen, resetConnection, sendJson, sendPage } from './http-server.js';
import { generateFakeKey, signDigest, type FakeKey, type FakeKeyKind } from './keys.js';
import { selfSignedTls } from './tls.js';

const CURVES: Partial<Record<FakeKeyKind, string>> = {
  'ec-p256': 'P-256',
  'ec-p384': 'P-384',
  'ec-p521': 'P-521',
};

/**
 * A fake Azure Key Vault over https (self-signed; the SDK refuses bearer tokens over http): the
 * bearer challenge, get key and sign (ES256/384/512 raw r||s, RS256/384/512), plus a managed
 * identity token endpoint (App Service protocol: IDENTITY_ENDPOINT + IDENTITY_HEADER) that
 * DefaultAzureCredential uses. Its certificate is for 127.0.0.1, or for `dnsName`.
 */
export async function startFakeAzureKeyVault(options: { dnsName?: string } = {}) {
  const faults = new Faults();
  const tls = selfSignedTls(options.dnsName);
  const identityHeader = randomUUID();
  const accessToken = randomBytes(24).toString('hex');
  const keys = new Map<string, { key: FakeKey; version: string }>();
  let tokensIssued = 0;
  /** When set, ECDSA signatures are cut to this many bytes (a faulty vault or proxy). */
  let ecdsaLength: number | undefined;
  /** When set, the host of every kid, as a real vault's own name (reached through a front). */
  let canonicalHost: string | undefined;

  const identity = await listen((request, _body, response) => {
    const url = new URL(request.url ?? '/', 'http://identity');
    if (request.headers['x-identity-header'] !== identityHeader)
      return sendJson(response, 401, { error: 'bad header' });
    tokensIssued++;
    sendJson(response, 200, {
      access_token: accessToken,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource: url.searchParams.get('resource') ?? '',
      token_type: 'Bearer',
      client_id: 'fake-client',
    });
  });

  const vault = await listen(async (request, rawBody, response) => {
    const url = new URL(request.url ?? '/', 'https://vault');
    const [collection, name = '', second, third] = url.pathname.split('/').filter(Boolean);
    const operation = third === 'sign' || second === 'sign' ? 'sign' : 'getKey';
    if (request.headers.authorization !== `Bearer ${accessToken}`) {
      response.writeHead(401, {
        'www-authenticate':
          'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
      });
      return response.end();
    }
    const fault = await faults.decide(operation);
    if (fault === 'hang') return;
    if (fault === 'reset') return resetConnection(request);
    if (fault === 'page') return sendPage(response);
    if (fault === 'throttle')
      return sendJson(
        response,
        429,
        {
          error: {
            code: 'Throttled',
            message: 'Request was not processed because too many requests were received.',
          },
        },
        { 'retry-after': '0' },
      );
    if (fault === 'error')
      return sendJson(response, faults.errorStatus ?? 500, {
        error: { code: 'InternalError', message: 'internal error' },
      });
    const entry = keys.get(name);
    if (collection !== 'keys' || !entry)
      return sendJson(response, 404, {
        error: {
          code: 'KeyNotFound',
          message: `A key with (name/id) ${name} was not found in this key vault.`,
        },
      });
    // A real vault names its keys by its own name, whatever host the client reached it by.
    const kid = `https://${canonicalHost ?? request.headers.host}/keys/${name}/${entry.version}`;

    if (operation === 'getKey') {
      return sendJson(response, 200, {
        key: { kid, ...jwkOf(entry.key) },
        attributes: {
          enabled: true,
          created: 1_700_000_000,
          updated: 1_700_000_000,
          recoveryLevel: 'Recoverable',
        },
      });
    }
    const body = JSON.parse(rawBody.toString('utf8')) as { alg: string; value: string };
    const digest = Buffer.from(body.value, 'base64url');
    const hash = `sha${body.alg.slice(2)}` as 'sha256';
    const key = entry.key;
    if (!key.privateKey)
      return sendJson(response, 400, { error: { code: 'BadParameter', message: 'cannot sign' } });
    let signature: Buffer;
    if (body.alg.startsWith('ES') && key.kind.startsWith('ec-')) {
      signature = derToRaw(
        await signDigest(key, digest, hash),
        key.kind === 'ec-p256' ? 32 : key.kind === 'ec-p384' ? 48 : 66,
      ).subarray(0, ecdsaLength);
    } else if (body.alg.startsWith('RS') && key.kind.startsWith('rsa-')) {
      signature = await signDigest(key, digest, hash);
    } else if (body.alg.startsWith('PS') && key.kind.startsWith('rsa-')) {
      // Key Vault PS256/384/512: MGF1 with the same hash, salt of the hash's length.
      signature = await signDigest(key, digest, hash, { saltLength: digest.length });
    } else {
      return sendJson(response, 400, {
        error: { code: 'BadParameter', message: `${body.alg} does not suit the key` },
      });
    }
    return sendJson(response, 200, { kid, value: signature.toString('base64url') });
  }, tls);

  return {
    origin: vault.origin,
    host: `127.0.0.1:${vault.port}`,
    cert: tls.cert,
    faults,
    tokensIssued: () => tokensIssued,
    /** Names its keys (their kid) by `host`, not by the Host the client sent; undefined: the latter. */
    nameKeysBy(host: string | undefined) {
      canonicalHost = host;
    },
    /** Cuts the ECDSA signatures it answers to `length` bytes; undefined: whole again. */
    cutEcdsaSignatures(length: number | undefined) {
      ecdsaLength = length;
    },
    /** Environment for DefaultAzureCredential's managed identity (App Service) source. */
    identityEnv: {
      IDENTITY_ENDPOINT: `${identity.origin}/msi/token`,
      IDENTITY_HEADER: identityHeader,
    },
    createKey(name: string, kind: FakeKeyKind) {
      const key = generateFakeKey(kind);
      keys.set(name, { key, version: randomBytes(16).toString('hex') });
      return key;
    },
    close: async () => {
      await vault.close();
      await identity.close();
    },
  };
}

function jwkOf(key: FakeKey): Record<string, unknown> {
  if (key.kind === 'aes-256') return { kty: 'oct-HSM', key_ops: ['encrypt', 'decrypt'] };
  const jwk = key.publicKey!.export({ format: 'jwk' });
  if (key.kind.startsWith('ec-'))
    return { kty: 'EC', crv: CURVES[key.kind], x: jwk.x, y: jwk.y, key_ops: ['sign', 'verify'] };
  return { kty: 'RSA', n: jwk.n, e: jwk.e, key_ops: ['sign', 'verify'] };
}

/** DER Ecdsa-Sig-Value to the fixed-width r || s Key Vault returns. */
function derToRaw(der: Buffer, size: number): Buffer {
  let offset = 2;
  if (der[1]! & 0x80) offset += der[1]! & 0x7f;
  const read = () => {
    const length = der[offset + 1]!;
    const value = der.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    const trimmed = value.subarray(Math.max(0, value.length - size));
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([read(), read()]);
}
