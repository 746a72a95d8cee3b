/**
 * The benchmark suite, run for a few seconds so it cannot rot. It asserts that every part runs and
 * reports sane figures, never how fast: timings are for `npm run bench` on a quiet machine.
 */
import { describe, expect, it } from 'vitest';
import { benchHttp } from '../../bench/http.js';
import { benchInProcess } from '../../bench/in-process.js';
import { benchLedger } from '../../bench/ledger.js';
import { benchLogAudit } from '../../bench/log-audit.js';
import { benchPingUnderLoad } from '../../bench/ping-under-load.js';
import { benchPkcs11 } from '../../bench/pkcs11.js';
import { benchSignatureCache } from '../../bench/signature-cache.js';
import { benchSigningStrategies } from '../../bench/signing-strategies.js';
import { benchSoak } from '../../bench/soak.js';
import { benchStartup } from '../../bench/startup.js';
import { requireBuild } from '../helpers/process.js';
import { REPO_ROOT } from '../helpers/spawn-server.js';

describe('benchmarks (smoke)', () => {
  it('in-process issuance and raw signatures for every key type', async () => {
    // --against this very checkout: the other version's path is exercised too.
    const results = await benchInProcess({ seconds: 0.1, runs: 1, against: REPO_ROOT });
    expect(results.map((result) => result.key)).toEqual(['p256', 'p384', 'rsa2048', 'ed25519']);
    for (const result of results) {
      expect(result.issuance).toBeGreaterThan(0);
      expect(result.verifiedIssuance).toBeGreaterThan(0);
      expect(result.rawSign).toBeGreaterThan(0);
      expect(result.againstRatio).toBeGreaterThan(0);
    }
  });

  it('signing strategies for slow keys', async () => {
    await expect(
      benchSigningStrategies({ seconds: 0.1, runs: 1, concurrency: 4 }),
    ).resolves.toBeUndefined();
  });

  it('a signature after other work has written to memory', () => {
    const results = benchSignatureCache({ seconds: 0.05, runs: 1, kb: [0, 1024] });
    expect(results.map((result) => result.kb)).toEqual([0, 1024]);
    for (const result of results) expect(result.microseconds).toBeGreaterThan(0);
  });

  it('HTTP against the floor, turn floor and token floor servers, ping under a P-384 load, and a short soak', async () => {
    requireBuild();
    const http = await benchHttp({
      seconds: 1,
      pairs: 1,
      connections: 4,
      against: REPO_ROOT,
      tokenFloor: true,
      turnFloor: true,
    });
    expect(http.server.errors + http.server.non2xx).toBe(0);
    expect(http.floor.errors + http.floor.non2xx).toBe(0);
    expect(http.against?.requestsPerSecond).toBeGreaterThan(0);
    expect((http.against?.errors ?? 1) + (http.against?.non2xx ?? 1)).toBe(0);
    // The token floor answered granted tokens (checkAnswer) and every measured request.
    expect(http.tokenFloor?.requestsPerSecond).toBeGreaterThan(0);
    expect((http.tokenFloor?.errors ?? 1) + (http.tokenFloor?.non2xx ?? 1)).toBe(0);
    expect(http.turnFloor?.requestsPerSecond).toBeGreaterThan(0);
    expect((http.turnFloor?.errors ?? 1) + (http.turnFloor?.non2xx ?? 1)).toBe(0);
    expect(http.ratio).toBeGreaterThan(0);
    expect(http.p99Ratio).toBeGreaterThan(0);
    expect(http.fixedRate.rate).toBeGreaterThan(0);
    expect(http.fixedRate.p99Ratio).toBeGreaterThan(0);
    const ping = await benchPingUnderLoad({ seconds: 1, connections: 4 });
    expect(ping.issuance.errors + ping.issuance.non2xx).toBe(0);
    expect(await benchStartup({ runs: 1 })).toBeGreaterThan(0);
    const soak = await benchSoak({ requests: 2_000, connections: 4, warmUp: 500 });
    expect(soak.errors).toBe(0);
  });

  it('the pkcs11 signer (SoftHSM2) against raw C_Sign, and against emulated round trips', async () => {
    for (const latencyMs of [0, 1]) {
      const results = await benchPkcs11({ seconds: 0.1, runs: 1, sessions: 2, latencyMs });
      expect(results.map((result) => result.key)).toEqual(['p256', 'rsa3072']);
      for (const result of results) {
        expect(result.tokens).toBeGreaterThan(0);
        expect(result.rawSign).toBeGreaterThan(0);
      }
    }
  });

  it("log-audit of the ledger's log against raw verifications, and against this checkout", async () => {
    requireBuild();
    const results = await benchLogAudit({ entries: 300, certless: 0.5, against: REPO_ROOT });
    expect(results.map((r) => r.name)).toEqual([
      'audit',
      'audit --chain',
      'against: audit',
      'against: audit --chain',
    ]);
    for (const result of results) {
      expect(result.seconds).toBeGreaterThan(0);
      expect(result.ratio).toBeGreaterThan(0);
      expect(result.maxRssBytes).toBeGreaterThan(0);
    }
  });

  it('the PostgreSQL ledger, 1 and 2 processes', async () => {
    requireBuild();
    const results = await benchLedger({ seconds: 1, repeats: 1, connections: 4 });
    expect(results.map((r) => r.processes)).toEqual([1, 2]);
    for (const result of results) {
      expect(result.errors).toBe(0);
      expect(result.with).toBeGreaterThan(0);
      expect(result.without).toBeGreaterThan(0);
    }
  });
});
