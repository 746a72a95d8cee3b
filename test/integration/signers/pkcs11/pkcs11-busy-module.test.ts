/**
 * Two keys on one HSM share its module's signing threads. While one key's signatures keep every
 * thread busy and the token answers them, the other key's signature that times out waiting for a
 * thread is the HSM busy, not gone: abandoned ("saturated"), and its breaker stays closed. The
 * token's answers are counted per module, whichever key they were for.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { signerFailureCounts } from '../../../helpers/fault-tsa.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';

const hsm = new SoftHsm();
let host: Pkcs11Calls | undefined;
/** C_Sign calls held until the test lets each through (the token's pace). */
const held: (() => void)[] = [];
const holdingModule: LoadModule = async (path, settings) => {
  const calls = await loadInHost(path, settings);
  host = calls;
  const overrides: Partial<Pkcs11Calls> = {
    sign: async (...args) => {
      await new Promise<void>((resolve) => held.push(resolve));
      return calls.sign(...args);
    },
  };
  return overridden(calls, overrides);
};
// The deadline is a timer: faked, so that it fires when the test says.
const TIMEOUT_MS = 60_000;
let busy: Pkcs11Signer;
let waiting: Pkcs11Signer;
const now = 0;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'key-a', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'key-b', 'EC:prime256v1', '02');
  busy = await createPkcs11Signer(hsm.uri('tsa', 'key-a'), 'auto', {
    loadModule: holdingModule,
    maxSessions: 12,
    timeoutMs: TIMEOUT_MS,
    maxSigningThreads: 1,
  });
  waiting = await createPkcs11Signer(hsm.uri('tsa', 'key-b'), 'auto', {
    loadModule: holdingModule,
    maxSessions: 4,
    timeoutMs: TIMEOUT_MS,
    breaker: { threshold: 1, cooldownMs: 1_000, now: () => now },
  });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterAll(async () => {
  vi.useRealTimers();
  try {
    while (held.length > 0) held.shift()?.();
    await waiting?.[Symbol.asyncDispose]();
    await busy?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
  }
});

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Lets the module's process and the event loop catch up with what was started. */
async function settled(): Promise<void> {
  for (let i = 0; i < 3; i++) await host?.C_GetSlotList(true);
  for (let i = 0; i < 3; i++) await turn();
}

it("a key that waits for a thread while the token answers another key's signatures is saturated, not a failure", async () => {
  const before = await signerFailureCounts();
  const fromBusy = Array.from({ length: 12 }, () => busy.sign(randomBytes(20)));
  for (const signature of fromBusy) signature.catch(() => {});
  await settled();
  expect(held).toHaveLength(1); // one thread: one signature in the token, the others wait
  const fromWaiting = waiting.sign(randomBytes(20));
  fromWaiting.catch(() => {});
  await settled();
  // The token answers the busy key's signatures, one every tenth of the deadline.
  for (let i = 0; i < 9; i++) {
    vi.advanceTimersByTime(TIMEOUT_MS / 10);
    held.shift()?.();
    while (held.length === 0) await turn();
  }
  vi.advanceTimersByTime(TIMEOUT_MS / 10 + 1);
  await expect(fromWaiting).rejects.toMatchObject({ code: 'TIMEOUT' });
  const after = await signerFailureCounts();
  expect(after['saturated']).toBeGreaterThan(before['saturated'] ?? 0);
  expect(after['timeout'] ?? 0).toBe(before['timeout'] ?? 0);
  expect(waiting.unavailableReason()).toBeUndefined();
});
