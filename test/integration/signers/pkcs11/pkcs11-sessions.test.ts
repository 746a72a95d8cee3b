/**
 * The pkcs11 signer's session pool and recovery on SoftHSM2: concurrent signatures use several
 * sessions (never more than --pkcs11-max-sessions), and a token removed mid-load (its directory
 * moved away) gives clean systemFailure answers and a red /readyz, then tokens again once it is back.
 */
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../../../src/metrics/registry.js';
import { createPkcs11Signer } from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { decodeResponse } from '../../../helpers/decode.js';
import { tempDir } from '../../../helpers/openssl.js';
import { waitUntil } from '../../../helpers/poll.js';
import { writeChainFor } from '../../../helpers/remote-tsa.js';
import { encodeRequest } from '../../../helpers/requests.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { createTestServer } from '../../../helpers/tsa.js';

const hsm = new SoftHsm();
const dir = tempDir();
let chain: string;
let server: Awaited<ReturnType<typeof createTestServer>>;
const MAX_SESSIONS = 4;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'rsa:3072', '01');
  const probe = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto');
  chain = (await writeChainFor(probe.publicKey, dir)).chain;
  await probe[Symbol.asyncDispose]();
  server = await createTestServer({
    timestampSigner: 'pkcs11',
    pkcs11Uri: hsm.uri('tsa', 'tsa-key'),
    pkcs11MaxSessions: MAX_SESSIONS,
    certificateChainPath: chain,
    kmsBreakerThreshold: 3,
    kmsBreakerCooldown: '2s',
  });
});
afterAll(async () => {
  try {
    await server?.app.close();
    await server?.signer[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
    dir.cleanup();
  }
});

async function metric(name: string): Promise<number> {
  const text = await registry.getSingleMetricAsString(name);
  return Number(/ (\d+(?:\.\d+)?)$/m.exec(text)?.[1]);
}

async function timestamp(nonce: number) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'application/timestamp-query' },
    payload: encodeRequest({ nonce: BigInt(nonce), certReq: true }),
  });
  return { status: response.statusCode, body: response.rawPayload };
}

const readyz = async () => (await server.app.inject({ url: '/readyz' })).statusCode;

describe('pkcs11 session pool', () => {
  it('64 concurrent requests are signed on several sessions, at most --pkcs11-max-sessions', async () => {
    expect(await metric('timestamp_authority_pkcs11_sessions')).toBe(1); // the start-up session
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => timestamp(i + 1)));
    expect(results.map((result) => result.status)).toEqual(Array(64).fill(200));
    for (const result of results) expect(decodeResponse(result.body).status).toBe(0);
    const sessions = await metric('timestamp_authority_pkcs11_sessions');
    expect(sessions).toBeGreaterThan(1);
    expect(sessions).toBeLessThanOrEqual(MAX_SESSIONS);
  });

  it('a token removed mid-load: clean systemFailures, then 503s and a red /readyz, then tokens again once it is back', async () => {
    const [tokenDir = ''] = readdirSync(hsm.tokens);
    const away = join(hsm.dir.dir, 'removed-token');
    const statuses: number[] = [];
    let removed = false;
    // Eight clients sending one request after another; the token goes away under them.
    const clients = Array.from({ length: 8 }, async (_, client) => {
      for (let i = 0; i < 40; i++) {
        const { status, body } = await timestamp(1000 + client * 100 + i);
        statuses.push(status);
        if (status !== 200) {
          // 500: a signature that failed; 503: refused for now by the open breaker.
          expect([500, 503]).toContain(status);
          const decoded = decodeResponse(body);
          expect(decoded.status).toBe(2); // rejection
          expect(decoded.failInfo).toEqual(['systemFailure']);
        }
        if (!removed && statuses.length >= 16) {
          removed = true;
          renameSync(join(hsm.tokens, tokenDir), away);
        }
      }
    });
    await Promise.all(clients);
    expect(statuses.slice(0, 16)).toEqual(Array(16).fill(200));
    // The signatures that failed: 500, or 503 for those whose failure found the breaker open (the
    // ones that opened it included; with eight clients, which those are depends on the timing).
    expect(statuses.slice(16).some((status) => status !== 200)).toBe(true);
    // Enough consecutive failures opened the breaker: not ready, and refused without a C_Sign,
    // for now (503, to retry later).
    // /readyz 503
    await waitUntil(
      async () => (await timestamp(5000)).status === 503 && (await readyz()) === 503,
      100,
    );

    renameSync(away, join(hsm.tokens, tokenDir));
    // The breaker lets a probe through after its cool-down; the probe reopens module, token, key.
    // A token after the return, then /readyz 200.
    await waitUntil(async () => (await timestamp(6000)).status === 200, 100);
    await waitUntil(async () => (await readyz()) === 200, 100);
    const after = await Promise.all(Array.from({ length: 16 }, (_, i) => timestamp(7000 + i)));
    expect(after.map((result) => result.status)).toEqual(Array(16).fill(200));
    expect(await metric('timestamp_authority_pkcs11_sessions')).toBeLessThanOrEqual(MAX_SESSIONS);
    const failures = await registry.getSingleMetricAsString(
      'timestamp_authority_signer_failures_total',
    );
    expect(failures).toMatch(/reason="connection"} [1-9]/);
  });
});
