/**
 * A key the token no longer holds (deleted, replaced by another under its label) while another
 * key of the same module signs on: the token answers, so its reconnections find the token and
 * look for the key again without re-initializing the module (C_Finalize would end the other key's
 * sessions and login at every attempt), and the signer is unavailable (issuance refused, /readyz
 * red, whatever its breaker) until a reconnection, tried in the background, finds the key again.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CKA, CKO_PRIVATE_KEY } from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  PKCS11_KEY_UNUSABLE,
  type Pkcs11Signer,
  type Pkcs11SignerOptions,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';
import { signOutcome, turn } from '../../../helpers/sign-outcome.js';

const hsm = new SoftHsm();
/** The module's calls, counted. */
const calls = { initialize: 0, finalize: 0, openSession: 0, findKey: 0 };
/** The error the next signature fails with, by CKR_ name (pkcs11js puts it in the message). */
let failNextSign: string | undefined;
/** A private key label the token does not show while set (the key as if deleted). */
let hidden: string | undefined;

const countingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  /** Sessions whose search is for the hidden key. */
  const hiding = new Set<string>();
  return overridden(host, {
    C_Initialize: (options) => {
      calls.initialize++;
      return host.C_Initialize(options);
    },
    C_Finalize: () => {
      calls.finalize++;
      return host.C_Finalize();
    },
    C_OpenSession: (...args) => {
      calls.openSession++;
      return host.C_OpenSession(...args);
    },
    C_FindObjectsInit: (session, template) => {
      const has = (type: number, value: unknown) =>
        template.some((each) => each.type === type && each.value === value);
      const privateKey = has(CKA.CLASS, CKO_PRIVATE_KEY);
      if (privateKey) calls.findKey++;
      if (privateKey && hidden !== undefined && has(CKA.LABEL, hidden)) {
        hiding.add(session.toString('hex'));
      } else hiding.delete(session.toString('hex'));
      return host.C_FindObjectsInit(session, template);
    },
    C_FindObjects: async (session, maxObjectCount) => {
      const found = await host.C_FindObjects(session, maxObjectCount);
      return hiding.has(session.toString('hex')) ? [] : found;
    },
    sign: (...args) => {
      const fault = failNextSign;
      failNextSign = undefined;
      return fault ? Promise.reject(new Error(fault)) : host.sign(...args);
    },
  });
};

/** Its breaker disabled: every reconnection is counted, and only the signer itself refuses. */
const OPTIONS: Pkcs11SignerOptions = {
  loadModule: countingModule,
  maxSessions: 1,
  breaker: { threshold: 0, cooldownMs: 0 },
};

let healthy: Pkcs11Signer;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'ledger-key', 'EC:prime256v1', '02');
  await hsm.keygen('tsa', 'profile-key', 'EC:prime256v1', '03');
  healthy = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', OPTIONS);
});
afterAll(async () => {
  try {
    await healthy?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
  }
});

const outcome = (signer: Pkcs11Signer): Promise<string> => signOutcome(signer);

describe('a key the token no longer holds', () => {
  it('is looked for again without re-initializing the module: the other key keeps its sessions and login; the signer is unavailable, whatever its breaker', async () => {
    const broken = await createPkcs11Signer(hsm.uri('tsa', 'ledger-key'), 'auto', {
      ...OPTIONS,
      // No reconnection in the background here: only the signatures' are counted.
      keyRecheckMs: 3_600_000,
    });
    try {
      expect(await outcome(broken)).toBe('signed');
      expect(await outcome(healthy)).toBe('signed');
      await hsm.deleteKeyPair('tsa', 'ledger-key');
      // The token goes away and comes back: the module is re-initialized once, as it should be.
      failNextSign = 'CKR_DEVICE_REMOVED';
      expect(await outcome(broken)).toBe('TOKEN_UNAVAILABLE');
      const reinitialized = calls.finalize;
      await expect(broken.sign(randomBytes(20))).rejects.toMatchObject({
        code: 'KEY_NOT_FOUND',
        message: 'pkcs11:token=tsa;object=ledger-key: no private key matches',
      });
      expect(calls.finalize).toBe(reinitialized + 1);
      expect(await outcome(healthy)).toBe('signed'); // its connection is of the older generation

      const before = { ...calls };
      for (let i = 0; i < 5; i++) expect(await outcome(broken)).toBe('KEY_NOT_FOUND');
      expect(await outcome(healthy)).toBe('signed');
      // Five reconnections, one session each (closed): no re-initialization, and the other key
      // signed with the session and login it had.
      expect(calls.finalize).toBe(before.finalize);
      expect(calls.initialize).toBe(before.initialize);
      expect(calls.openSession - before.openSession).toBe(5);
      expect(calls.findKey - before.findKey).toBe(5);

      // Unavailable meanwhile, a temporary refusal (a key put back mends it): /readyz names the
      // key, clients are told a fixed text.
      expect(broken.unavailableReason()).toBe(
        'pkcs11:token=tsa;object=ledger-key: no private key matches',
      );
      expect(broken.unavailableDetail()).toBe(PKCS11_KEY_UNUSABLE);
      expect(broken.unavailableIsTemporary()).toBe(true);
      expect(broken.unavailableForMs()).toBe(3_600_000);

      // Another key under its label: found, but not the certified one; the module is still left
      // alone.
      await hsm.keygen('tsa', 'ledger-key', 'EC:prime256v1', '02');
      await expect(broken.sign(randomBytes(20))).rejects.toMatchObject({
        code: 'KEY_NOT_FOUND',
        message:
          'pkcs11:token=tsa;object=ledger-key: the token is back but the key found is not the certified one',
      });
      expect(calls.finalize).toBe(before.finalize);
      expect(await outcome(healthy)).toBe('signed');
    } finally {
      await broken[Symbol.asyncDispose]();
    }
  });

  it('is looked for again by unavailableReason (readiness) until found: then the signer is available and signs', async () => {
    const signer = await createPkcs11Signer(hsm.uri('tsa', 'profile-key'), 'auto', {
      ...OPTIONS,
      keyRecheckMs: 0,
    });
    try {
      expect(await outcome(signer)).toBe('signed');
      hidden = 'profile-key';
      failNextSign = 'CKR_DEVICE_REMOVED';
      expect(await outcome(signer)).toBe('TOKEN_UNAVAILABLE');
      expect(await outcome(signer)).toBe('KEY_NOT_FOUND');
      const searches = calls.findKey;
      // Nothing asks the signer to sign while issuance is refused: readiness's questions look.
      while (calls.findKey < searches + 3) {
        expect(signer.unavailableReason()).toBe(
          'pkcs11:token=tsa;object=profile-key: no private key matches',
        );
        await turn();
      }
      hidden = undefined;
      while (signer.unavailableReason() !== undefined) await turn();
      expect(signer.unavailableDetail()).toBeUndefined();
      expect(await outcome(signer)).toBe('signed');
      expect(await outcome(healthy)).toBe('signed');
    } finally {
      hidden = undefined;
      await signer[Symbol.asyncDispose]();
    }
  });
});
