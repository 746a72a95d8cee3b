import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Signer } from '../../../src/crypto/signer.js';
import { registry } from '../../../src/metrics/registry.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { replyStatus } from '../../helpers/remote-tsa.js';
import { EXT, OpensslPki, privateKeyUsagePeriodExt } from '../../helpers/openssl-pki.js';
import { observeCertificateChains } from '../../../src/server/http-metrics.js';
import { watchCertificateExpiry } from '../../../src/runtime/certificate-expiry.js';
import { createTestServer } from '../../helpers/tsa.js';
import { pino } from 'pino';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { buildServer } from '../../../src/server/app.js';
import { httpStatusOf } from '../../../src/server/http-outcome.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import { defaultAuthority } from '../../helpers/authority.js';

const work = tempDir();
const pki = new OpensslPki(work.dir);
let query: Buffer;
let chainPath: string;

beforeAll(async () => {
  await pki.key('root');
  await pki.cert('root', { subject: '/O=test/CN=Guard Root', ext: EXT.root, days: 3650 });
  await pki.key('leaf');
  // Valid for one day from now: the test moves the clock past it.
  await pki.cert('leaf', {
    subject: '/O=test/CN=Short Lived TSA',
    ext: EXT.leaf,
    issuer: 'root',
    days: 1,
  });
  chainPath = pki.chain('chain.pem', 'leaf', 'root');
  const data = work.write('data.txt', 'guarded artifact');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', work.path('q.tsq')]);
  query = readFileSync(work.path('q.tsq'));
});
afterEach(() => vi.useRealTimers());
afterAll(() => work.cleanup());

const post = (
  app: Awaited<ReturnType<typeof createTestServer>>['app'],
  payload: Buffer | string,
  json = false,
) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': json ? 'application/json' : 'application/timestamp-query' },
    payload,
  });

async function gauge(): Promise<string> {
  return (
    (await registry.getSingleMetricAsString('timestamp_authority_certificate_chain_valid'))
      .trim()
      .split('\n')
      .pop() ?? ''
  );
}

describe('beyond Go: no tokens while the TSA certificate is expired or not yet valid', () => {
  it('refuses with systemFailure (HTTP 500) and says why, then issues again when valid', async () => {
    const { app, authority } = await createTestServer({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('leaf.key'),
      certificateChainPath: chainPath,
    });
    expect((await post(app, query)).statusCode).toBe(200);
    expect(await gauge()).toBe('timestamp_authority_certificate_chain_valid 1');

    const notAfter = new Date(new X509Certificate(readFileSync(pki.path('leaf.pem'))).validTo);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(notAfter.getTime() + 60_000);

    const refused = await post(app, query);
    expect(refused.statusCode).toBe(500);
    const reason = `TSA certificate "O=test, CN=Short Lived TSA" expired at ${notAfter.toISOString()}`;
    expect(authority.unavailableReason()?.detail).toBe(reason);
    const text = await replyStatus(refused.rawPayload, work);
    expect(text).toContain('Status: Rejected.');
    expect(text).toContain(reason);
    expect(text).toContain('Failure info: the request cannot be handled due to system failure');
    const jsonRefused = await post(
      app,
      JSON.stringify({
        hashAlgorithm: 'sha256',
        artifactHash: Buffer.alloc(32, 1).toString('base64'),
      }),
      true,
    );
    expect(jsonRefused.statusCode).toBe(500);
    expect(jsonRefused.json()).toEqual({
      code: 500,
      message: 'Error generating timestamp response',
    });
    expect(await gauge()).toBe('timestamp_authority_certificate_chain_valid 0');

    vi.useRealTimers();
    expect((await post(app, query)).statusCode).toBe(200);
    await app.close();
  });

  it('logs one error line per refused request, with the reason', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const config = resolveServeConfig({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('leaf.key'),
      certificateChainPath: chainPath,
    });
    const { authority, chainPem } = await createAuthority(config, logger);
    const app = await buildServer({ config, authority, chainPem, logger });
    const notAfter = new Date(new X509Certificate(readFileSync(pki.path('leaf.pem'))).validTo);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(notAfter.getTime() + 1000);
    expect((await post(app, query)).statusCode).toBe(500);
    const entries = lines.map(
      (line) =>
        JSON.parse(line) as { msg: string; level: number; reason?: string; failInfo?: string },
    );
    const failed = entries.filter((entry) => entry.msg === 'request failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, failInfo: 'systemFailure' });
    expect(failed[0]?.reason).toContain('expired at');
    await app.close();
  });

  it('refuses before the certificate becomes valid', async () => {
    const { app, authority } = await createTestServer({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('leaf.key'),
      certificateChainPath: chainPath,
    });
    const notBefore = new Date(new X509Certificate(readFileSync(pki.path('leaf.pem'))).validFrom);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(notBefore.getTime() - 60_000);
    expect((await post(app, query)).statusCode).toBe(500);
    expect(authority.unavailableReason()?.detail).toContain('is not valid before');
    await app.close();
  });
});

describe("beyond Go: no tokens outside the TSA key's private key usage period", () => {
  it('refuses with systemFailure after the period ends, though the certificate is valid, and the lifetime gauge counts down to it', async () => {
    // Valid for a day; its key may sign for an hour of it (openssl-made, the extension as DER).
    const keyUsageEnd = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
    await pki.key('period-leaf');
    await pki.cert('period-leaf', {
      subject: '/O=test/CN=Key Period TSA',
      ext: `${EXT.leaf}\n${privateKeyUsagePeriodExt({ notAfter: keyUsageEnd })}`,
      issuer: 'root',
      days: 1,
    });
    const { app, authority, chain } = await createTestServer({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path('period-leaf.key'),
      certificateChainPath: pki.chain('period-chain.pem', 'period-leaf', 'root'),
    });
    expect((await post(app, query)).statusCode).toBe(200);
    expect(await gauge()).toBe('timestamp_authority_certificate_chain_valid 1');

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(keyUsageEnd.getTime() - 86_400_000 / 4);
    observeCertificateChains([chain]);
    expect(
      await registry.getSingleMetricAsString(
        'timestamp_authority_certificate_valid_days_remaining',
      ),
    ).toMatch(/^timestamp_authority_certificate_valid_days_remaining 0.25$/m);
    // And the log says it, as the period's end, not the certificate's.
    const said: string[] = [];
    watchCertificateExpiry(
      [{ chain }],
      { warn: (_fields: unknown, line: string) => said.push(line) } as never,
      {
        now: () => Date.now(),
        setTimer: () => ({ unref: () => undefined }),
        clearTimer: () => undefined,
      },
    );
    expect(said).toEqual([
      `the private key usage period of TSA certificate "O=test, CN=Key Period TSA" ends in less than a day (${keyUsageEnd.toISOString()}): issuance stops then; renew the chain`,
    ]);

    vi.setSystemTime(keyUsageEnd.getTime() + 1000);
    const refused = await post(app, query);
    expect(refused.statusCode).toBe(500);
    const reason = `the private key usage period of TSA certificate "O=test, CN=Key Period TSA" ended at ${keyUsageEnd.toISOString()}`;
    expect(authority.unavailableReason()?.detail).toBe(reason);
    const text = await replyStatus(refused.rawPayload, work);
    expect(text).toContain(reason);
    expect(await gauge()).toBe('timestamp_authority_certificate_chain_valid 0');

    vi.useRealTimers();
    expect((await post(app, query)).statusCode).toBe(200);
    await app.close();
  });
});

describe('beyond Go: each token signature is verified before it is sent', () => {
  async function authorityWith(signer: Signer, verifySignatures: boolean | undefined) {
    const { chain } = await createMemorySigner('sha256');
    return defaultAuthority(signer, chain.map(parseCertificate), {
      ...(verifySignatures === undefined ? {} : { verifySignatures }),
    });
  }

  /** Claims one key but signs with another: a key/certificate mismatch that appears at run time. */
  function mismatchedSigner(): Signer {
    const claimed = new LocalKeySigner(
      'claimed',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      'sha256',
    );
    const actual = new LocalKeySigner(
      'actual',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      'sha256',
    );
    return {
      id: 'mismatched',
      keyOutsideProcess: false,
      algorithm: claimed.algorithm,
      publicKey: claimed.publicKey,
      sign: (data) => actual.sign(data),
      [Symbol.asyncDispose]: async () => {},
    };
  }

  it('catches a signature that does not verify (on by default): systemFailure, no token', async () => {
    const outcome = await (await authorityWith(mismatchedSigner(), undefined)).issue(query, 'der');
    if (outcome.status !== 'rejection') throw new Error('granted');
    expect(outcome.failInfo).toBe('systemFailure');
    expect(httpStatusOf(outcome.failInfo)).toBe(500);
    expect(outcome.detail).toBe('token signature did not verify');
    expect(String(outcome.cause)).toContain(
      'token signature by mismatched does not verify with its public key',
    );
  });

  it('--verify-tokens=false skips the check (the bad token goes out)', async () => {
    const outcome = await (await authorityWith(mismatchedSigner(), false)).issue(query, 'der');
    expect(outcome.status).toBe('granted');
  });

  it('passes good signatures', async () => {
    const { signer } = await createMemorySigner('sha256');
    const outcome = await (await authorityWith(signer, true)).issue(query, 'der');
    expect(outcome.status).toBe('granted');
  });

  it('the flag reaches the encoder through the configuration', async () => {
    const { config, authority } = await createTestServer({ verifyTokens: 'false' });
    expect(config.verifyTokens).toBe(false);
    expect(authority.encoder.verifySignatures).toBe(false);
    expect(
      (await createTestServer({ verifyTokens: 'true' })).authority.encoder.verifySignatures,
    ).toBe(true);
  });

  it('unset, it checks keys outside the process only: not the in-process memory key', async () => {
    const { config, signer, authority } = await createTestServer();
    expect(config.verifyTokens).toBeUndefined();
    expect(signer.keyOutsideProcess).toBe(false);
    expect(authority.encoder.verifySignatures).toBe(false);
  });
});

describe('start-up refuses a key that is not the certificate key', () => {
  it('public keys are not equal', async () => {
    await pki.key('stranger');
    await expect(
      createTestServer({
        timestampSigner: 'file',
        fileSignerKeyPath: pki.path('stranger.key'),
        certificateChainPath: chainPath,
      }),
    ).rejects.toThrow('public keys are not equal');
  });
});
