import type { KeyObject } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Faults } from '../../../fakes/faults.js';
import type { ProviderOptions } from '../../../../src/signers/kms/provider-options.js';
import {
  RemoteSignerTimeout,
  type RemoteCallPolicy,
} from '../../../../src/signers/kms/remote-signer.js';
import { startFakeAzureKeyVault } from '../../../fakes/azure-key-vault.js';
import { startFakeGcpKms } from '../../../fakes/gcp-kms.js';
import { startFakeVault } from '../../../fakes/vault-transit.js';
import { startFakeAwsKmsForSdk } from '../../../helpers/fake-aws-kms.js';
import {
  createRemoteTsa,
  signerFailureCounts,
  watchUnhandledRejections,
} from '../../../helpers/fault-tsa.js';
import { openssl, tempDir } from '../../../helpers/openssl.js';
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

/** Generous: the granted calls (the client's first, lazy loading included) need not be fast. */
const TIMEOUT_MS = 30_000;
const POLICY: RemoteCallPolicy = {
  timeoutMs: TIMEOUT_MS,
  maxConcurrency: 4,
  maxRetries: 2,
  backoffMs: 5,
  breaker: { threshold: 5, cooldownMs: 60_000 },
};

/**
 * The --kms-timeout of the TSA the timeout cases run on (a TSA of their own): short, to provoke
 * the timeout. A loaded machine may let a call meant to succeed miss it too: such a call is tried
 * again (a timeout, nothing else), so that no assertion depends on the machine's speed. Its
 * breaker stays out of the way of those tries.
 */
const DEADLINE_MS = 1_000;
const DEADLINE_POLICY: RemoteCallPolicy = {
  ...POLICY,
  timeoutMs: DEADLINE_MS,
  breaker: { threshold: 1_000, cooldownMs: 60_000 },
};

/** The failure counts that changed since `before` (signerFailureCounts), by reason. */
async function failuresSince(before: Record<string, number>): Promise<Record<string, number>> {
  const after = await signerFailureCounts();
  return Object.fromEntries(
    Object.entries(after)
      .map(([reason, value]) => [reason, value - (before[reason] ?? 0)] as const)
      .filter(([, delta]) => delta !== 0),
  );
}

interface Provider {
  name: string;
  /** The fake's name of the sign operation. */
  signOperation: string;
  /** How a 503 reaches the client: gRPC turns it into UNAVAILABLE. */
  unavailableReason: string;
  /** Whether the fake can answer a proxy's page in the service's place (HTTP, not gRPC). */
  answersPages: boolean;
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
    answersPages: true,
    async start() {
      const fake = await startFakeAwsKmsForSdk();
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
    answersPages: false,
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
    answersPages: true,
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
    answersPages: true,
    async start() {
      const fake = await startFakeAzureKeyVault();
      Object.assign(process.env, fake.identityEnv);
      const key = fake.createKey('faults', 'ec-p256');
      return {
        faults: fake.faults,
        uri: `azurekms://${fake.host}/faults`,
        publicKey: key.publicKey!,
        options: { ca: fake.cert },
        stop: async () => {
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
   * Sends a request under the fault (to `app`, the main TSA's by default); expects a 500
   * systemFailure counted under `reason`, after `calls` sign calls when given (else at least one).
   */
  async function expectSystemFailure(reason: string, calls?: number, app = tsa.app) {
    const before = await signerFailureCounts();
    const sent = service.faults.count(provider.signOperation);
    const failed = await requestToken(app, dir);
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

  describe(`with a ${DEADLINE_MS} ms --kms-timeout`, () => {
    const deadlineDir = tempDir();
    let deadlineTsa: Awaited<ReturnType<typeof createRemoteTsa>>;

    beforeAll(async () => {
      // Reading the key is a call under the deadline too: tried again while it times out.
      for (;;) {
        try {
          deadlineTsa = await createRemoteTsa(
            service.uri,
            service.publicKey,
            DEADLINE_POLICY,
            deadlineDir,
            service.options,
          );
          return;
        } catch (error) {
          if (!((error as Error).cause instanceof RemoteSignerTimeout)) throw error;
        }
      }
    });
    afterAll(async () => {
      await deadlineTsa?.close();
      deadlineDir.cleanup();
    });

    /**
     * expectRecovery on the deadline TSA: the next request is granted and verifies, or, where the
     * machine was too slow for the deadline, fails as a timeout and the one after is made.
     */
    async function expectRecoveryPastDeadline() {
      service.faults.reset();
      for (;;) {
        const before = await signerFailureCounts();
        const { statusCode, body, data } = await requestToken(deadlineTsa.app, deadlineDir);
        if (statusCode === 200) {
          const reply = deadlineDir.write('reply.tsr', body);
          const root = deadlineTsa.paths.root;
          expect(
            await openssl(['ts', '-verify', '-in', reply, '-data', data, '-CAfile', root]),
          ).toContain('Verification: OK');
          break;
        }
        expect(await failuresSince(before)).toEqual({ timeout: 1 });
      }
      expect(deadlineTsa.signer.breaker.state).toBe('closed');
    }

    it('a latency spike past --kms-timeout: systemFailure (timeout); the late answer harms nothing', async () => {
      service.faults.latencyMs = DEADLINE_MS * 2;
      await expectSystemFailure('timeout', undefined, deadlineTsa.app);
      // Let the late answer arrive while the server keeps serving.
      service.faults.latencyMs = 0;
      await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 1.5));
      await expectRecoveryPastDeadline();
    });

    it('a hanging service: systemFailure (timeout) arrives while the service still hangs', async () => {
      service.faults.hang = true;
      await expectSystemFailure('timeout', undefined, deadlineTsa.app);
      // The fake never answers while hang is set: the answer came from the deadline.
      expect(service.faults.hang).toBe(true);
      await expectRecoveryPastDeadline();
    });
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

  // Registered where the fake can answer a page: gRPC has no such answer to give.
  if (provider.answersPages)
    it('a 200 the client cannot read (a proxy’s page): systemFailure counted as a failure for the breaker, not a refusal', async () => {
      const failuresBefore = tsa.signer.breaker.consecutiveFailures;
      service.faults.page = true;
      await expectSystemFailure('other', 1);
      // A refusal (4xx) would have reset the count: a proxy answering 200 must open the breaker.
      expect(tsa.signer.breaker.consecutiveFailures).toBe(failuresBefore + 1);
      await expectRecovery();
    });

  it('a connection reset mid-request: systemFailure (connection), then recovery', async () => {
    service.faults.resetConnection = true;
    await expectSystemFailure('connection');
    await expectRecovery();
  });
});
