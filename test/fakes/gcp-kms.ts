import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crc32c } from '../../src/signers/tink/crc32c.js';
import { Faults } from './faults.js';
import {
  generateFakeKey,
  openWith,
  sealWith,
  signDigest,
  type FakeKey,
  type FakeKeyKind,
} from './keys.js';

const require = createRequire(import.meta.url);
/** The protos shipped in @google-cloud/kms (google/cloud/kms/v1) and google-gax (google/api, ...). */
const KMS_PROTOS = join(
  dirname(require.resolve('@google-cloud/kms/package.json')),
  'build',
  'protos',
);
const GAX_PROTOS = join(packageRoot(require.resolve('google-gax')), 'build', 'protos');

function packageRoot(entry: string): string {
  const marker = `${join('node_modules', 'google-gax')}`;
  return entry.slice(0, entry.indexOf(marker) + marker.length);
}

const ALGORITHMS: Record<FakeKeyKind, string> = {
  'ec-p256': 'EC_SIGN_P256_SHA256',
  'ec-p384': 'EC_SIGN_P384_SHA384',
  'ec-p521': 'EC_SIGN_SECP256K1_SHA256',
  'rsa-2048': 'RSA_SIGN_PKCS1_2048_SHA256',
  'rsa-3072': 'RSA_SIGN_PKCS1_3072_SHA256',
  'rsa-4096': 'RSA_SIGN_PKCS1_4096_SHA512',
  ed25519: 'EC_SIGN_ED25519',
  'aes-256': 'GOOGLE_SYMMETRIC_ENCRYPTION',
};

interface FakeVersion {
  key: FakeKey;
  state: string;
  algorithm: string;
}

type Callback = (error: Partial<grpc.ServiceError> | null, value?: unknown) => void;

/**
 * A fake Cloud KMS over gRPC, built from the real google.cloud.kms.v1 protos: GetPublicKey,
 * GetCryptoKeyVersion, ListCryptoKeyVersions, AsymmetricSign and Decrypt, with real keys.
 */
export async function startFakeGcpKms() {
  const definition = protoLoader.loadSync('google/cloud/kms/v1/service.proto', {
    includeDirs: [KMS_PROTOS, GAX_PROTOS],
    keepCase: false,
    enums: String,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: {
      cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } };
    };
  };
  const faults = new Faults();
  const versions = new Map<string, FakeVersion>();
  const decryptRequests: Record<string, unknown>[] = [];

  const version = (name: unknown): FakeVersion => {
    const found = versions.get(String(name));
    if (!found) throw { code: grpc.status.NOT_FOUND, details: `${String(name)} not found` };
    return found;
  };
  const describe = (name: string, found: FakeVersion) => ({
    name,
    state: found.state,
    algorithm: found.algorithm,
    protectionLevel: 'SOFTWARE',
  });

  const handlers: Record<string, (request: Record<string, unknown>) => Promise<unknown> | unknown> =
    {
      ListCryptoKeyVersions(request) {
        const parent = String(request['parent']);
        const filter = String(request['filter'] ?? '');
        const listed = [...versions]
          .filter(([name]) => name.startsWith(`${parent}/cryptoKeyVersions/`))
          .filter(([, found]) => filter !== 'state=ENABLED' || found.state === 'ENABLED')
          .map(([name, found]) => describe(name, found));
        return { cryptoKeyVersions: listed, nextPageToken: '', totalSize: listed.length };
      },
      GetCryptoKeyVersion(request) {
        return describe(String(request['name']), version(request['name']));
      },
      GetPublicKey(request) {
        const found = version(request['name']);
        if (!found.key.publicKey)
          throw { code: grpc.status.FAILED_PRECONDITION, details: 'not an asymmetric key' };
        return {
          name: request['name'],
          pem: found.key.publicKey.export({ type: 'spki', format: 'pem' }),
          algorithm: found.algorithm,
          protectionLevel: 'SOFTWARE',
        };
      },
      async AsymmetricSign(request) {
        const found = version(request['name']);
        const digest = request['digest'] as Record<string, Buffer | undefined> & {
          digest?: string;
        };
        const hash = digest.digest as 'sha256' | 'sha384' | 'sha512' | undefined;
        const bytes = hash ? digest[hash] : undefined;
        if (!hash || !bytes || !found.algorithm.endsWith(hash.toUpperCase())) {
          throw {
            code: grpc.status.INVALID_ARGUMENT,
            details: 'digest does not match the key algorithm',
          };
        }
        // Cloud KMS RSA_SIGN_PSS_*: MGF1 with the same hash, salt of the hash's length.
        const pss = found.algorithm.includes('_PSS_') ? { saltLength: bytes.length } : undefined;
        return {
          name: request['name'],
          signature: await signDigest(found.key, bytes, hash, pss),
        };
      },
      Decrypt(request) {
        decryptRequests.push(request);
        const name = String(request['name']);
        const primary = versions.get(`${name}/cryptoKeyVersions/1`);
        if (!primary?.key.secret)
          throw { code: grpc.status.NOT_FOUND, details: `${name} not found` };
        try {
          const aad =
            (request['additionalAuthenticatedData'] as Buffer | undefined) ?? Buffer.alloc(0);
          const ciphertext = request['ciphertext'] as Buffer;
          const sent = request['ciphertextCrc32c'] as { value?: string } | null;
          if (sent && sent.value !== String(crc32c(ciphertext))) {
            return Promise.reject({
              code: grpc.status.INVALID_ARGUMENT,
              details: 'ciphertext_crc32c mismatch',
            });
          }
          const plaintext = openWith(primary.key, ciphertext, aad);
          return { plaintext, plaintextCrc32c: { value: String(crc32c(plaintext)) } };
        } catch {
          throw { code: grpc.status.INVALID_ARGUMENT, details: 'Decryption failed' };
        }
      },
    };

  const server = new grpc.Server();
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    implementation[method] = (
      call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
      callback: Callback,
    ) => {
      void (async () => {
        const fault = await faults.decide(method);
        if (fault === 'hang') return;
        if (fault === 'reset') return resetConnectionOf(call);
        if (fault === 'throttle')
          return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Quota exceeded' });
        if (fault === 'error') {
          const code = faults.errorStatus === 503 ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL;
          return callback({ code, details: 'internal error' });
        }
        try {
          callback(null, await handler(call.request));
        } catch (error) {
          const failure = error as { code?: number; details?: string };
          callback({
            code: failure.code ?? grpc.status.INTERNAL,
            details: failure.details ?? String(error),
          });
        }
      })();
    };
  }
  server.addService(loaded.google.cloud.kms.v1.KeyManagementService.service, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    decryptRequests,
    /** Adds a key version (`…/cryptoKeys/<key>/cryptoKeyVersions/<n>`). */
    addVersion(
      cryptoKey: string,
      number: number,
      kind: FakeKeyKind,
      options: { state?: string; algorithm?: string } = {},
    ): FakeKey {
      const key = generateFakeKey(kind);
      versions.set(`${cryptoKey}/cryptoKeyVersions/${number}`, {
        key,
        state: options.state ?? 'ENABLED',
        algorithm: options.algorithm ?? ALGORITHMS[kind],
      });
      return key;
    },
    /** Encrypt with the key's version 1, as Cloud KMS Encrypt would (in this fake's format). */
    encrypt(cryptoKey: string, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
      const primary = versions.get(`${cryptoKey}/cryptoKeyVersions/1`);
      if (!primary) throw new Error(`no key ${cryptoKey}`);
      return sealWith(primary.key, plaintext, aad);
    },
    // Hanging calls never end by themselves: cut them.
    close: () => Promise.resolve(server.forceShutdown()),
  };
}

/**
 * Resets (TCP RST) the connection of a call. grpc-js offers no public handle on it: the unary call
 * wraps the server call (`call.call`), which holds the HTTP/2 stream; its session's socket proxy
 * allows resetAndDestroy.
 */
function resetConnectionOf(call: object): void {
  const stream = (
    call as { call?: { stream?: { session?: { socket?: { resetAndDestroy?: () => void } } } } }
  ).call?.stream;
  const reset = stream?.session?.socket?.resetAndDestroy;
  if (!reset) throw new Error("grpc-js internals changed: cannot reach the call's socket");
  reset();
}
