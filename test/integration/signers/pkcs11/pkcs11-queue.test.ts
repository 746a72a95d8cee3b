/**
 * Signatures waiting for a PKCS#11 session are capped, on the real SoftHSM2: with every session
 * busy (the token's C_Sign held by the test) and the wait queue full (`maxWaiting`), the next
 * signature is refused at once, temporarily (503 + Retry-After), and counted as queue_full; the
 * breaker learns nothing from it, and the waiting ones are all signed once the token answers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  PKCS11_QUEUE_FULL,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { signerFailuresTotal } from '../../../../src/signers/kms/remote-signer-metrics.js';
import { QUEUE_FULL_RETRY_MS } from '../../../../src/signers/slot-queue.js';
import { TimeStampRejection } from '../../../../src/tsp/rejection.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';
import { waitUntil } from '../../../helpers/poll.js';

const hsm = new SoftHsm();
/** While set, C_Sign calls wait here until the test lets them through (a slow HSM). */
let holdSigns = true;
const heldSigns: (() => void)[] = [];
const holdingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  const overrides: Partial<Pkcs11Calls> = {
    sign: async (...args) => {
      if (holdSigns) await new Promise<void>((resolve) => heldSigns.push(resolve));
      return host.sign(...args);
    },
  };
  return overridden(host, overrides);
};

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
});
afterAll(() => hsm.cleanup());

const queueFullCount = async () =>
  (await signerFailuresTotal.get()).values.find(({ labels }) => labels.reason === 'queue_full')
    ?.value ?? 0;

describe('signatures waiting for a PKCS#11 session', () => {
  it('are at most maxWaiting: the next is refused at once, temporarily', async () => {
    const signer = await createPkcs11Signer(
      `pkcs11:token=tsa;object=tsa-key?module-path=${SOFTHSM_MODULE}&pin-value=${TEST_PIN}`,
      'auto',
      { loadModule: holdingModule, maxSessions: 2, maxWaiting: 8, timeoutMs: 600_000 },
    );
    try {
      const inFlight = Array.from({ length: 2 + 8 }, () => signer.sign(randomBytes(32)));
      // Both sessions are signing (held); the rest wait for one.
      await waitUntil(() => heldSigns.length === 2);
      const before = await queueFullCount();
      const refused = await signer.sign(randomBytes(32)).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TimeStampRejection);
      expect(refused).toMatchObject({
        failInfo: 'systemFailure',
        temporary: true,
        retryInMs: QUEUE_FULL_RETRY_MS,
        detail: PKCS11_QUEUE_FULL,
      });
      expect(await queueFullCount()).toBe(before + 1);
      expect(signer.unavailableReason()).toBeUndefined();
      // The token answers: every signature that waited is made.
      holdSigns = false;
      for (const release of heldSigns.splice(0)) release();
      expect(await Promise.all(inFlight)).toHaveLength(2 + 8);
    } finally {
      holdSigns = false;
      for (const release of heldSigns.splice(0)) release();
      await signer[Symbol.asyncDispose]();
    }
  });
});
