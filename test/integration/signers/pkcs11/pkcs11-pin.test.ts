/**
 * A PIN the token refuses after start-up (the PIN changed on the HSM, the server not told) is
 * offered once, not at every reconnection: the PIN file is read again at each one, and while it
 * still holds the refused PIN the signer refuses without calling C_Login (most HSMs lock the user
 * out after a few wrong PINs), says what to update, and is unavailable; once the file holds another
 * PIN, that one is offered, once.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import { localPinGate, type PinGate } from '../../../../src/signers/pkcs11/pin-gate.js';
import {
  createPkcs11Signer,
  PKCS11_PIN_REFUSED,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';
import { signOutcome, turn } from '../../../helpers/sign-outcome.js';

const hsm = new SoftHsm();
const ROTATED_PIN = '9999-rotated-pin';
const ANOTHER_WRONG_PIN = '0000-another-wrong-pin';
/** Every process the module was loaded in, the latest last. */
const hosts: Pkcs11Calls[] = [];
/** PINs offered to the token (C_Login), in order. */
const logins: string[] = [];
/** While set, C_Login calls wait here until the test lets each through (a slow HSM). */
let holdLogins = false;
const heldLogins: (() => void)[] = [];
/**
 * The last login held: a session is closed after it, as in the module's process, where such calls
 * run one after another on one thread.
 */
let lastHeldLogin: Promise<void> = Promise.resolve();
/** The error the next C_Sign fails with, by CKR_ name (pkcs11js puts it in the message). */
let failNextSign: string | undefined;

const countingModule: LoadModule = async (path, settings) => {
  const host = await loadInHost(path, settings);
  hosts.push(host);
  const overrides: Partial<Pkcs11Calls> = {
    C_Login: async (session, userType, pin) => {
      logins.push(String(pin));
      if (holdLogins) {
        lastHeldLogin = new Promise<void>((resolve) => heldLogins.push(resolve));
        await lastHeldLogin;
      }
      return host.C_Login(session, userType, pin);
    },
    C_CloseSession: async (...args) => {
      await lastHeldLogin;
      return host.C_CloseSession(...args);
    },
    sign: (...args) => {
      const fault = failNextSign;
      failNextSign = undefined;
      return fault ? Promise.reject(new Error(fault)) : host.sign(...args);
    },
  };
  return overridden(host, overrides);
};

/** The code a signature fails with, whose message names no PIN, or 'signed'. */
const outcome = (signer: Pkcs11Signer): Promise<string> =>
  signOutcome(signer, ({ message }) => {
    for (const pin of [TEST_PIN, ROTATED_PIN, ANOTHER_WRONG_PIN]) {
      expect(message).not.toContain(pin);
    }
  });

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'ledger-key', 'EC:prime256v1', '02');
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
      expect(codes).toEqual(Array(10).fill('PIN_INCORRECT'));
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
      expect(codes).toEqual(Array(5).fill('PIN_INCORRECT'));
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

describe('two keys of one token through one PIN gate (a server: its profiles, its --ledger-key)', () => {
  it("wait for each other's offer, however late the token answers, and share its refusal", async () => {
    const TIMEOUT_MS = 60_000;
    const shared = localPinGate();
    /** Admissions asked of the gate: a signer that asked waits there for the other's offer. */
    let admissions = 0;
    const gate: PinGate = {
      key: shared.key,
      admit: (scope, digest) => {
        admissions++;
        return shared.admit(scope, digest);
      },
      settle: (ticket, answer) => shared.settle(ticket, answer),
    };
    const options = {
      loadModule: countingModule,
      maxSessions: 1,
      timeoutMs: TIMEOUT_MS,
      pinGate: gate,
    };
    const tsa = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', options);
    const ledger = await createPkcs11Signer(hsm.uri('tsa', 'ledger-key'), 'auto', options);
    let tokenPin = TEST_PIN;
    try {
      await hsm.changePin('tsa', TEST_PIN, ROTATED_PIN);
      tokenPin = ROTATED_PIN;
      // The token goes away and comes back (the HSM restarted): the next signatures reconnect.
      failNextSign = 'CKR_DEVICE_REMOVED';
      expect(await outcome(tsa)).toBe('TOKEN_UNAVAILABLE');
      // The deadlines are timers, faked: they fire when the test says.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      holdLogins = true;
      const before = logins.length;
      admissions = 0;
      // The first reconnects and offers the (now wrong) PIN; the HSM takes its time to answer.
      const first = tsa.sign(randomBytes(20));
      first.catch(() => {});
      while (heldLogins.length === 0) await turn();
      // The other key reconnects too: it waits for the first's answer, without offering. (Its
      // reconnection crosses to the module's process and back: on a busy machine that takes many
      // event-loop turns, so the test waits until it has asked the gate, not a number of turns.)
      const second = ledger.sign(randomBytes(20));
      second.catch(() => {});
      while (admissions < 2) await turn();
      expect(logins.length - before).toBe(1);
      // Both deadlines pass before the token answers.
      vi.advanceTimersByTime(TIMEOUT_MS);
      await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' });
      await expect(second).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(tsa.unavailableReason()).toBeUndefined();
      // The token refuses the PIN, late: both keys know it, the second without offering it.
      heldLogins.shift()?.();
      while (tsa.unavailableReason() === undefined || ledger.unavailableReason() === undefined) {
        await turn();
      }
      expect(tsa.unavailableReason()).toMatch(
        /object=tsa-key: the token refused the PIN \(CKR_PIN_INCORRECT\)/,
      );
      expect(ledger.unavailableReason()).toMatch(
        /object=ledger-key: the token refused the PIN \(CKR_PIN_INCORRECT\)/,
      );
      expect(logins.length - before).toBe(1);
      expect(await outcome(ledger)).toBe('PIN_INCORRECT');
      expect(logins.length - before).toBe(1);
    } finally {
      vi.useRealTimers();
      holdLogins = false;
      for (const release of heldLogins.splice(0)) release();
      if (tokenPin !== TEST_PIN) await hsm.changePin('tsa', tokenPin, TEST_PIN);
      await ledger[Symbol.asyncDispose]();
      await tsa[Symbol.asyncDispose]();
    }
  });
});

describe('two keys of one token, one login (a PKCS#11 login is the token’s, not a key’s)', () => {
  const WRONG_PIN = '1111-wrong-pin';
  /** A PIN file of its own for the second key. */
  const pinFile = (name: string, pin: string) => hsm.dir.write(name, `${pin}\n`);
  const ledgerUri = (query: string) =>
    `pkcs11:token=tsa;object=ledger-key?module-path=${SOFTHSM_MODULE}${query}`;

  it.each([
    ['without a PIN gate', undefined],
    ['through a PIN gate', localPinGate()],
  ])(
    'a second key whose PIN differs from the one that logged the token in is refused at start, without the PIN (%s); the same PIN starts',
    async (_, pinGate) => {
      const options = { loadModule: countingModule, maxSessions: 1, ...(pinGate && { pinGate }) };
      const tsa = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', options);
      try {
        expect(await outcome(tsa)).toBe('signed');
        const wrongFile = pinFile('wrong-pin', WRONG_PIN);
        for (const [query, source] of [
          [`&pin-source=file:${wrongFile}`, `the PIN file ${wrongFile}`],
          [`&pin-value=${WRONG_PIN}`, "the URI's pin-value (and restart)"],
        ] as const) {
          const opening = createPkcs11Signer(ledgerUri(query), 'auto', options);
          await expect(opening).rejects.toMatchObject({
            code: 'PIN_INCORRECT',
            message: `pkcs11:token=tsa;object=ledger-key: the token is logged in with another key's PIN, which it accepted: a token has one user PIN; update ${source}: this PIN is not offered again`,
          });
          const { message } = (await opening.catch((error: unknown) => error)) as Error;
          for (const pin of [WRONG_PIN, TEST_PIN]) expect(message).not.toContain(pin);
        }
        if (pinGate) {
          // The gate heard of it: another signer of the token with that PIN does not offer it.
          const before = logins.length;
          await expect(
            createPkcs11Signer(ledgerUri(`&pin-source=file:${wrongFile}`), 'auto', options),
          ).rejects.toMatchObject({ code: 'PIN_INCORRECT' });
          expect(logins).toHaveLength(before);
        }
        // The same PIN, from a file of its own: the key starts and signs with its own key.
        const ledger = await createPkcs11Signer(
          ledgerUri(`&pin-source=file:${pinFile('same-pin', TEST_PIN)}`),
          'auto',
          options,
        );
        try {
          expect(await outcome(ledger)).toBe('signed');
          expect(ledger.publicKey.equals(tsa.publicKey)).toBe(false);
        } finally {
          await ledger[Symbol.asyncDispose]();
        }
        expect(await outcome(tsa)).toBe('signed');
      } finally {
        await tsa[Symbol.asyncDispose]();
      }
    },
  );

  it('a key without a PIN on a token that requires a login is refused at start, the token logged in by another key or not', async () => {
    const refusal = {
      code: 'PIN_MISSING',
      message:
        'pkcs11:token=tsa;object=ledger-key: the token requires a login (CKF_LOGIN_REQUIRED) and the URI gives no PIN: add pin-source=file:/path/to/pin',
    };
    const options = { loadModule: countingModule, maxSessions: 1 };
    await expect(createPkcs11Signer(ledgerUri(''), 'auto', options)).rejects.toMatchObject(refusal);
    const tsa = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', options);
    try {
      // Its key is visible now (the token is logged in): refused all the same.
      await expect(createPkcs11Signer(ledgerUri(''), 'auto', options)).rejects.toMatchObject(
        refusal,
      );
      expect(await outcome(tsa)).toBe('signed');
    } finally {
      await tsa[Symbol.asyncDispose]();
    }
  });

  it("after the module is initialized again, a key whose PIN file now differs from the login's is refused, its PIN not offered again", async () => {
    const ledgerPin = pinFile('ledger-pin', TEST_PIN);
    const options = { loadModule: countingModule, maxSessions: 1, pinRecheckMs: 0 };
    const tsa = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', options);
    const ledger = await createPkcs11Signer(
      ledgerUri(`&pin-source=file:${ledgerPin}`),
      'auto',
      options,
    );
    try {
      expect(await outcome(ledger)).toBe('signed');
      writeFileSync(ledgerPin, `${WRONG_PIN}\n`);
      const host = hosts.at(-1)!;
      process.kill(host.pid, 'SIGKILL');
      while (!host.stopped) await turn();
      // The first key logs the token in again; the second's C_Login answers
      // CKR_USER_ALREADY_LOGGED_IN, whatever its PIN.
      expect(await outcome(tsa)).toBe('signed');
      expect(await outcome(ledger)).toBe('PIN_INCORRECT');
      const reason = `pkcs11:token=tsa;object=ledger-key: the token is logged in with another key's PIN, which it accepted: a token has one user PIN; update the PIN file ${ledgerPin}: this PIN is not offered again`;
      expect(ledger.unavailableReason()).toBe(reason);
      expect(ledger.unavailableDetail()).toBe(PKCS11_PIN_REFUSED);
      const before = logins.length;
      expect(await outcome(ledger)).toBe('PIN_INCORRECT');
      expect(logins).toHaveLength(before);
      // The file mended: the next reconnection offers it, and the key signs again.
      writeFileSync(ledgerPin, `${TEST_PIN}\n`);
      while (ledger.unavailableReason() !== undefined) await turn();
      expect(await outcome(ledger)).toBe('signed');
      expect(await outcome(tsa)).toBe('signed');
    } finally {
      await ledger[Symbol.asyncDispose]();
      await tsa[Symbol.asyncDispose]();
    }
  });
});
