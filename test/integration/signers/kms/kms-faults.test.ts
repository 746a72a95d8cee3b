import { Agent } from 'node:https';
import type { KeyObject } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Faults } from '../../../fakes/faults.js';
import type { ProviderOptions } from '../../../../src/signers/kms/provider-options.js';
import type { RemoteCallPolicy } from '../../../../src/signers/kms/remote-signer.js';
import { startFakeAwsKms } from '../../../fakes/aws-kms.js';
import { startFakeAzureKeyVault } from '../../../fakes/azure-key-vault.js';
import { startFakeGcpKms } from '../../../fakes/gcp-kms.js';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import {
  createRemoteTsa,
  signerFailureCounts,
  watchUnhandledRejections,
} from '../../../helpers/fault-tsa.js';
import { tempDir } from '../../../helpers/openssl.js';
import { issueAndVerify, replyStatus, requestToken } from '../../../helpers/remote-tsa.js';

/**
 * Faults of each remote signer service, through its real client (AWS SDK, Cloud KMS gRPC client,
 * Azure SDK, fetch for Vault) against the fake: every fault is a 500 systemFailure, counted under
 * its reason, and the next request after the service recovers is granted. The one copy of these
 * scenarios: the per-provider files (kms-aws, kms-gcp, ...) keep only what differs by provider.
 */

const dir = tempDir();
const unhandled = watchUnhandledRejections();
afterEach(() => expect(unhandled).toEqual([]));
afterAll(() => dir.cleanup());

/** Short enough for a test, long enough that a loaded machine's normal calls fit. */
const TIMEOUT_MS = 1_000;
const POLICY: RemoteCallPolicy = {
  timeoutMs: TIMEOUT_MS,
  maxConcurrency: 4,
  maxRetries: 2,
  backoffMs: 5,
  breaker: { threshold: 5, cooldownMs: 60_000 },
};

interface Provider {
  name: string;
  /** The fake's name of the sign operation. */
  signOperation: string;
  /** How a 503 reaches the client: gRPC turns it into UNAVAILABLE. */
  unavailableReason: string;
  start(): Promise<{
    faults: Faults;
    uri: string;
    publicKey: KeyObject;
    options?: ProviderOptions;
    stop(): Promise<void>;
  }>;
}

const PROVIDERS: Provider[] = [
  {
    name: 'AWS KMS (@aws-sdk/client-kms)',
    signOperation: 'Sign',
    unavailableReason: 'server_error',
    async start() {
      const fake = await startFakeAwsKms();
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: 'AKIDFAKEFORTESTS',
        AWS_SECRET_ACCESS_KEY: 'fake-secret',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_KMS: fake.origin,
      });
      const created = fake.createKey('ec-p256', 'faults');
      return {
        faults: fake.faults,
        uri: `awskms:///${created.arn}`,
        publicKey: created.key.publicKey!,
        stop: fake.close,
      };
    },
  },
  {
    name: 'GCP Cloud KMS (@google-cloud/kms over gRPC)',
    signOperation: 'AsymmetricSign',
    unavailableReason: 'connection',
    async start() {
      process.env['METADATA_SERVER_DETECTION'] = 'none';
      const fake = await startFakeGcpKms();
      process.env['GCP_KMS_ENDPOINT'] = fake.endpoint;
      const cryptoKey = 'projects/p/locations/global/keyRings/r/cryptoKeys/faults';
      const key = fake.addVersion(cryptoKey, 1, 'ec-p256');
      return {
        faults: fake.faults,
        uri: `gcpkms://${cryptoKey}/cryptoKeyVersions/1`,
        publicKey: key.publicKey!,
        stop: fake.close,
      };
    },
  },
  {
    name: 'Vault transit (fetch)',
    signOperation: 'sign',
    unavailableReason: 'server_error',
    async start() {
      const token = 'hvs.faults-test-token';
      const fake = await startFakeVault({ token });
      Object.assign(process.env, { VAULT_ADDR: fake.origin, VAULT_TOKEN: token });
      const key = fake.createKey('faults', 'ec-p256');
      return {
        faults: fake.faults,
        uri: 'hashivault://faults',
        publicKey: key.publicKey!,
        stop: fake.close,
      };
    },
  },
  {
    name: 'Azure Key Vault (@azure/keyvault-keys)',
    signOperation: 'sign',
    unavailableReason: 'server_error',
    async start() {
      const fake = await startFakeAzureKeyVault();
      Object.assign(process.env, fake.identityEnv);
      const agent = new Agent({ ca: fake.cert });
      const key = fake.createKey('faults', 'ec-p256');
      return {
        faults: fake.faults,
        uri: `azurekms://${fake.host}/faults`,
        publicKey: key.publicKey!,
        options: { httpsAgent: agent },
        stop: async () => {
          agent.destroy();
          await fake.close();
        },
      };
    },
  },
];

describe.each(PROVIDERS)('$name under faults', (provider) => {
  let service: Awaited<ReturnType<Provider['start']>>;
  let tsa: Awaited<ReturnType<typeof createRemoteTsa>>;

  beforeAll(async () => {
    service = await provider.start();
    tsa = await createRemoteTsa(service.uri, service.publicKey, POLICY, dir, service.options);
  });
  afterAll(async () => {
    await tsa?.close();
    await service?.stop();
  });

  /**
   * Sends a request under the fault; expects a 500 systemFailure counted under `reason`, after
   * `calls` sign calls when given (else at least one).
   */
  async function expectSystemFailure(reason: string, calls?: number) {
    const before = await signerFailureCounts();
    const sent = service.faults.count(provider.signOperation);
    const failed = await requestToken(tsa.app, dir);
    expect(failed.statusCode).toBe(500);
    expect(await replyStatus(failed.body, dir)).toMatch(/Status: Rejected[\s\S]*system failure/i);
    if (calls === undefined)
      expect(service.faults.count(provider.signOperation)).toBeGreaterThan(sent);
    else expect(service.faults.count(provider.signOperation) - sent).toBe(calls);
    const after = await signerFailureCounts();
    expect((after[reason] ?? 0) - (before[reason] ?? 0)).toBe(1);
  }

  /** Clears the faults and checks that the very next request is granted and verifies. */
  async function expectRecovery() {
    service.faults.reset();
    expect(await issueAndVerify(tsa.app, dir, tsa.paths.root)).toContain('Verification: OK');
    expect(tsa.signer.breaker.state).toBe('closed');
  }

  it('a latency spike within --kms-timeout: the token is granted', async () => {
    service.faults.latencyMs = 100;
    expect(await issueAndVerify(tsa.app, dir, tsa.paths.root)).toContain('Verification: OK');
  });

  it('a latency spike past --kms-timeout: systemFailure (timeout); the late answer harms nothing', async () => {
    service.faults.latencyMs = TIMEOUT_MS * 2;
    await expectSystemFailure('timeout');
    // Let the late answer arrive while the server keeps serving.
    service.faults.latencyMs = 0;
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 1.5));
    await expectRecovery();
  });

  it('HTTP 500 from the service: systemFailure (server_error) without retrying, then recovery', async () => {
    service.faults.errorStatus = 500;
    await expectSystemFailure('server_error', 1);
    // A JSON request gets the Go server's JSON error.
    const json = await tsa.app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        artifactHash: Buffer.alloc(32, 7).toString('base64'),
        hashAlgorithm: 'sha256',
      }),
    });
    expect(json.statusCode).toBe(500);
    expect(json.json()).toMatchObject({ code: 500 });
    await expectRecovery();
  });

  it('HTTP 503 from the service: systemFailure without retrying, then recovery', async () => {
    service.faults.errorStatus = 503;
    await expectSystemFailure(provider.unavailableReason, 1);
    await expectRecovery();
  });

  it('throttling within the retries: retried with backoff, and the token is granted', async () => {
    service.faults.throttleCount = POLICY.maxRetries;
    const sent = service.faults.count(provider.signOperation);
    expect(await issueAndVerify(tsa.app, dir, tsa.paths.root)).toContain('Verification: OK');
    expect(service.faults.count(provider.signOperation) - sent).toBe(POLICY.maxRetries + 1);
  });

  it('throttling that outlasts the retries: systemFailure (throttled), then recovery', async () => {
    service.faults.throttleCount = 1_000;
    await expectSystemFailure('throttled', POLICY.maxRetries + 1);
    await expectRecovery();
  });

  it('a connection reset mid-request: systemFailure (connection), then recovery', async () => {
    service.faults.resetConnection = true;
    await expectSystemFailure('connection');
    await expectRecovery();
  });

  it('a hanging service: systemFailure (timeout) arrives while the service still hangs', async () => {
    service.faults.hang = true;
    await expectSystemFailure('timeout');
    // The fake never answers while hang is set: the answer came from the deadline.
    expect(service.faults.hang).toBe(true);
    await expectRecovery();
  });
});
