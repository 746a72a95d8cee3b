import { randomUUID } from 'node:crypto';
import { Faults } from './faults.js';
import {
  generateFakeKey,
  openWith,
  sealWith,
  signDigest,
  type FakeKey,
  type FakeKeyKind,
} from './keys.js';
import { listen, resetConnection, sendJson, sendPage } from './http-server.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

const KEY_SPECS: Partial<Record<FakeKeyKind, string>> = {
  'ec-p256': 'ECC_NIST_P256',
  'ec-p384': 'ECC_NIST_P384',
  'ec-p521': 'ECC_NIST_P521',
  'rsa-2048': 'RSA_2048',
  'rsa-3072': 'RSA_3072',
  'rsa-4096': 'RSA_4096',
  'aes-256': 'SYMMETRIC_DEFAULT',
};

function signingAlgorithms(kind: FakeKeyKind): string[] {
  if (kind === 'ec-p256') return ['ECDSA_SHA_256'];
  if (kind === 'ec-p384') return ['ECDSA_SHA_384'];
  if (kind === 'ec-p521') return ['ECDSA_SHA_512'];
  if (kind.startsWith('rsa-')) {
    // AWS lists PSS first: a client that takes SigningAlgorithms[0] would sign with PSS.
    return [
      'RSASSA_PSS_SHA_256',
      'RSASSA_PSS_SHA_384',
      'RSASSA_PSS_SHA_512',
      'RSASSA_PKCS1_V1_5_SHA_256',
      'RSASSA_PKCS1_V1_5_SHA_384',
      'RSASSA_PKCS1_V1_5_SHA_512',
    ];
  }
  return [];
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * A fake AWS KMS speaking the JSON 1.1 protocol (X-Amz-Target: TrentService.<Operation>):
 * DescribeKey, GetPublicKey, Sign (MessageType DIGEST), Decrypt, CreateAlias and UpdateAlias,
 * with real keys. Every call naming an alias (alias/name or alias ARN) resolves it at that call.
 */
export async function startFakeAwsKms(options: { tls?: { key: string; cert: string } } = {}) {
  const faults = new Faults();
  const keys = new Map<string, FakeKey>();
  const aliases = new Map<string, string>();
  const arnOf = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
  /** Sign requests seen: their SigV4 Authorization header and the KeyId they named. */
  const signatures: { authorization: string | undefined; keyId: unknown }[] = [];
  /** The SigningAlgorithm of every Sign call, in order. */
  const signingAlgorithmsUsed: string[] = [];

  const resolve = (reference: unknown): [string, FakeKey] => {
    if (typeof reference !== 'string')
      throw new AwsError('ValidationException', 'KeyId is required');
    let id = reference;
    if (id.startsWith('arn:')) id = id.slice(id.indexOf(':', id.indexOf(`:${ACCOUNT}:`) + 1) + 1);
    if (id.startsWith('key/')) id = id.slice(4);
    if (id.startsWith('alias/')) id = aliases.get(id) ?? '';
    const key = keys.get(id);
    if (!key) throw new AwsError('NotFoundException', `Key '${reference}' does not exist`);
    return [id, key];
  };

  const usageOf = (key: FakeKey) => (key.kind === 'aes-256' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY');
  const aliasName = (input: Record<string, unknown>): string => {
    const name = input['AliasName'];
    if (typeof name !== 'string' || !/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name))
      throw new AwsError('ValidationException', 'AliasName must match alias/[a-zA-Z0-9/_-]+');
    return name;
  };
  /** The target of CreateAlias/UpdateAlias: a key id or key ARN, never an alias (as AWS). */
  const aliasTarget = (input: Record<string, unknown>): [string, FakeKey] => {
    const target = input['TargetKeyId'];
    if (typeof target === 'string' && target.includes('alias/'))
      throw new AwsError('ValidationException', 'TargetKeyId must be a key id or key ARN');
    return resolve(target);
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateAlias(input) {
      const name = aliasName(input);
      if (name.startsWith('alias/aws/'))
        throw new AwsError('NotAuthorizedException', 'alias/aws/ is reserved for AWS');
      if (aliases.has(name))
        throw new AwsError(
          'AlreadyExistsException',
          `An alias with the name ${name} already exists`,
        );
      const [id] = aliasTarget(input);
      aliases.set(name, id);
      return {};
    },
    // UpdateAlias: the alias must exist, and its new key must have the same usage and be of the
    // same type (symmetric or asymmetric) as the old one.
    UpdateAlias(input) {
      const name = aliasName(input);
      const current = keys.get(aliases.get(name) ?? '');
      if (!current) throw new AwsError('NotFoundException', `Alias ${name} is not found`);
      const [id, key] = aliasTarget(input);
      if (usageOf(key) !== usageOf(current))
        throw new AwsError('ValidationException', 'the new key has another key usage or type');
      aliases.set(name, id);
      return {};
    },
    DescribeKey(input) {
      const [id, key] = resolve(input['KeyId']);
      return {
        KeyMetadata: {
          AWSAccountId: ACCOUNT,
          KeyId: id,
          Arn: arnOf(id),
          Enabled: true,
          KeyState: 'Enabled',
          KeyUsage: usageOf(key),
          KeySpec: KEY_SPECS[key.kind],
          SigningAlgorithms: signingAlgorithms(key.kind),
          CreationDate: 1_700_000_000,
        },
      };
    },
    GetPublicKey(input) {
      const [id, key] = resolve(input['KeyId']);
      if (!key.publicKey)
        throw new AwsError('UnsupportedOperationException', 'symmetric keys have no public key');
      return {
        KeyId: arnOf(id),
        PublicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        KeySpec: KEY_SPECS[key.kind],
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: signingAlgorithms(key.kind),
      };
    },
    async Sign(input) {
      const [id, key] = resolve(input['KeyId']);
      const algorithm = String(input['SigningAlgorithm']);
      if (!signingAlgorithms(key.kind).includes(algorithm)) {
        throw new AwsError('InvalidKeyUsageException', `${algorithm} is not valid for this key`);
      }
      if (input['MessageType'] !== 'DIGEST')
        throw new AwsError('ValidationException', 'this fake signs digests only');
      signingAlgorithmsUsed.push(algorithm);
      const hash = `sha${algorithm.slice(-3)}` as 'sha256';
      const digest = Buffer.from(String(input['Message']), 'base64');
      // AWS KMS PSS: MGF1 with the same hash, salt of the hash's length.
      const pss = algorithm.includes('PSS') ? { saltLength: digest.length } : undefined;
      return {
        KeyId: arnOf(id),
        Signature: (await signDigest(key, digest, hash, pss)).toString('base64'),
        SigningAlgorithm: algorithm,
      };
    },
    Decrypt(input) {
      const [id, key] = resolve(input['KeyId']);
      const aad = Buffer.from(JSON.stringify(input['EncryptionContext'] ?? {}));
      try {
        const plaintext = openWith(
          key,
          Buffer.from(String(input['CiphertextBlob']), 'base64'),
          aad,
        );
        return {
          KeyId: arnOf(id),
          Plaintext: plaintext.toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      } catch {
        throw new AwsError(
          'InvalidCiphertextException',
          'The ciphertext is invalid or was encrypted under another context',
        );
      }
    },
  };

  const http = await listen(async (request, body, response) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('TrentService.')
      ? target.slice('TrentService.'.length)
      : '';
    const fault = await faults.decide(operation);
    if (fault === 'hang') return;
    if (fault === 'reset') return resetConnection(request);
    if (fault === 'page') return sendPage(response);
    const reply = (status: number, value: unknown) =>
      sendJson(response, status, value, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID(),
      });
    if (fault === 'throttle')
      return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
    if (fault === 'error')
      return reply(faults.errorStatus ?? 500, {
        __type: 'KMSInternalException',
        message: 'internal error',
      });
    const handler = operations[operation];
    if (!handler) return reply(400, { __type: 'UnknownOperationException' });
    try {
      const input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      if (operation === 'Sign')
        signatures.push({ authorization: request.headers.authorization, keyId: input['KeyId'] });
      reply(200, await handler(input));
    } catch (error) {
      if (error instanceof AwsError)
        return reply(error.status, { __type: error.type, message: error.message });
      throw error;
    }
  }, options.tls);

  return {
    ...http,
    faults,
    signatures,
    signingAlgorithmsUsed,
    region: REGION,
    /**
     * Creates a key and, optionally, points an alias at it (an existing alias is repointed, as
     * UpdateAlias would); returns its id and ARN.
     */
    createKey(kind: FakeKeyKind, alias?: string) {
      const id = randomUUID();
      const key = generateFakeKey(kind);
      keys.set(id, key);
      if (alias) aliases.set(`alias/${alias}`, id);
      return { id, arn: arnOf(id), key };
    },
    /** Encrypts as KMS Encrypt would (with an optional EncryptionContext), in this fake's format. */
    encrypt(id: string, plaintext: Uint8Array, encryptionContext?: Record<string, string>) {
      const key = keys.get(id);
      if (!key) throw new Error(`no key ${id}`);
      return sealWith(key, plaintext, Buffer.from(JSON.stringify(encryptionContext ?? {})));
    },
  };
}
