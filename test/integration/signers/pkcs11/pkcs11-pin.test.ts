/**
 * A PIN the token refuses after start-up (the PIN changed on the HSM, the server not told) is
 * offered once, not at every reconnection: the PIN file is read again at each one, and while it
 * still holds the refused PIN the signer refuses without calling C_Login (most HSMs lock the user
 * out after a few wrong PINs), says what to update, and is unavailable; once the file holds another
 * PIN, that one is offered, once.
 */
import { randomBytes, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';

const hsm = new SoftHsm();
const ROTATED_PIN = '9999-rotated-pin';
const ANOTHER_WRONG_PIN = '0000-another-wrong-pin';
/** Every process the module was loaded in, the latest last. */
const hosts: Pkcs11Calls[] = [];
/** PINs offered to the token (C_Login), in order. */
const logins: string[] = [];

const countingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  hosts.push(host);
  const overrides: Partial<Pkcs11Calls> = {
    C_Login: (session, userType, pin) => {
      logins.push(String(pin));
      return host.C_Login(session, userType, pin);
    },
  };
  return new Proxy(host, {
    get: (target, name) =>
      (overrides as Record<string | symbol, unknown>)[name] ?? Reflect.get(target, name),
  });
};

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** The code a signature fails with, or 'signed'. */
async function outcome(signer: Pkcs11Signer): Promise<string> {
  const data = randomBytes(20);
  try {
    const signature = await signer.sign(data);
    const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
    expect(verify(digest, data, key, signature)).toBe(true);
    return 'signed';
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    for (const pin of [TEST_PIN, ROTATED_PIN, ANOTHER_WRONG_PIN]) {
      expect(message).not.toContain(pin);
    }
    return code;
  }
}

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
});
afterAll(() => hsm.cleanup());

describe('a PIN the token refused', () => {
  it('is offered once after a reconnection, not again while the PIN file holds it; a new PIN in the file is offered once', async () => {
    const warnings: string[] = [];
    const signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: countingModule,
      maxSessions: 1,
      pinRecheckMs: 0,
      warn: (message) => warnings.push(message),
    });
    let tokenPin = TEST_PIN;
    try {
      expect(logins).toEqual([TEST_PIN]);
      expect(await outcome(signer)).toBe('signed');
      // The PIN changes on the HSM; then its module's process dies: the next signatures reconnect.
      await hsm.changePin('tsa', TEST_PIN, ROTATED_PIN);
      tokenPin = ROTATED_PIN;
      const host = hosts.at(-1)!;
      process.kill(host.pid, 'SIGKILL');
      while (!host.stopped) await turn();
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) codes.push(await outcome(signer));
      expect(codes).toEqual(['TOKEN_UNAVAILABLE', ...Array(9).fill('PIN_INCORRECT')]);
      expect(logins).toEqual([TEST_PIN, TEST_PIN]); // offered once after the reconnection
      const refusal = `pkcs11:token=tsa;object=tsa-key: the token refused the PIN (CKR_PIN_INCORRECT); update the PIN file ${hsm.pinFile}: this PIN is not offered again`;
      await expect(signer.sign(randomBytes(20))).rejects.toThrow(refusal);
      expect(signer.unavailableReason()).toBe(refusal);
      // A PIN file an operator can fix: clients are told to retry (503).
      expect(signer.unavailableIsTemporary()).toBe(true);

      // Another PIN in the file, wrong too: offered once, then not again.
      writeFileSync(hsm.pinFile, `${ANOTHER_WRONG_PIN}\n`);
      expect(await outcome(signer)).toBe('PIN_INCORRECT');
      expect(await outcome(signer)).toBe('PIN_INCORRECT');
      expect(logins).toEqual([TEST_PIN, TEST_PIN, ANOTHER_WRONG_PIN]);

      // The right one: the signer is available again (unavailableReason reads the file again,
      // since a server refuses issuance while it is unavailable), and signs.
      writeFileSync(hsm.pinFile, `${ROTATED_PIN}\n`);
      while (signer.unavailableReason() !== undefined) await turn();
      expect(await outcome(signer)).toBe('signed');
      expect(logins).toEqual([TEST_PIN, TEST_PIN, ANOTHER_WRONG_PIN, ROTATED_PIN]);
      expect(await outcome(signer)).toBe('signed');
      expect(logins).toHaveLength(4);
      for (const warning of warnings) expect(warning).not.toMatch(/9999|0000|7291/);
    } finally {
      if (tokenPin !== TEST_PIN) await hsm.changePin('tsa', tokenPin, TEST_PIN);
      writeFileSync(hsm.pinFile, `${TEST_PIN}\n`, { mode: 0o600 });
      await signer[Symbol.asyncDispose]();
    }
  });

  it('is not offered again when the PIN is in the URI (pin-value): unavailable until restarted', async () => {
    const uri = `pkcs11:token=tsa;object=tsa-key?module-path=${SOFTHSM_MODULE}&pin-value=${TEST_PIN}`;
    const signer = await createPkcs11Signer(uri, 'auto', {
      loadModule: countingModule,
      maxSessions: 1,
      pinRecheckMs: 0,
    });
    let tokenPin = TEST_PIN;
    try {
      await hsm.changePin('tsa', TEST_PIN, ROTATED_PIN);
      tokenPin = ROTATED_PIN;
      const host = hosts.at(-1)!;
      process.kill(host.pid, 'SIGKILL');
      while (!host.stopped) await turn();
      const before = logins.length;
      const codes: string[] = [];
      for (let i = 0; i < 5; i++) codes.push(await outcome(signer));
      expect(codes).toEqual(['TOKEN_UNAVAILABLE', ...Array(4).fill('PIN_INCORRECT')]);
      expect(logins.length - before).toBe(1);
      expect(signer.unavailableReason()).toBe(
        "pkcs11:token=tsa;object=tsa-key: the token refused the PIN (CKR_PIN_INCORRECT); update the URI's pin-value (and restart): this PIN is not offered again",
      );
      // Only a restart mends it: a fault (500), not a temporary refusal.
      expect(signer.unavailableIsTemporary()).toBe(false);
    } finally {
      if (tokenPin !== TEST_PIN) await hsm.changePin('tsa', tokenPin, TEST_PIN);
      await signer[Symbol.asyncDispose]();
    }
  });
});
