import { createHmac, timingSafeEqual } from 'node:crypto';
import { readRegularFileCapped } from '../../capped-read.js';
import { withDeadline } from '../../deadline.js';
import type { PinAnswer, PinRefusal } from './pin-gate.js';
import { Pkcs11Error } from './pkcs11-error.js';
import { errorName } from './pkcs11-module.js';
import { pinSourcePath, type Pkcs11Uri } from './pkcs11-uri.js';

/** Far above any PIN: bounds what a pin-source naming the wrong file costs. */
export const MAX_PIN_FILE_BYTES = 4096;

/**
 * The PIN, read from its source (the PIN file is read again at each reconnection) within
 * `timeoutMs`: a regular file of MAX_PIN_FILE_BYTES at most, so that a FIFO nobody writes, a
 * device (`/dev/zero`) or a huge file is refused, never waited for or read to the end.
 */
export async function readPin(uri: Pkcs11Uri, timeoutMs: number): Promise<string | undefined> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource === undefined) return undefined;
  const path = pinSourcePath(uri.pinSource, uri.display);
  const refused = (why: string, options?: ErrorOptions) =>
    new Pkcs11Error(
      'PIN_SOURCE',
      `${uri.display}: cannot read the PIN file ${path}: ${why}`,
      options,
    );
  return withDeadline(
    timeoutMs,
    undefined,
    () => readPinFile(path, refused),
    (options) => refused(`not read within ${timeoutMs} ms`, options),
  );
}

async function readPinFile(
  path: string,
  refused: (why: string, options?: ErrorOptions) => Pkcs11Error,
): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFileCapped(path, MAX_PIN_FILE_BYTES, {
      notRegular: () => refused('not a regular file (a FIFO, a device or a directory)'),
      tooLarge: () => refused(`larger than ${MAX_PIN_FILE_BYTES} bytes, not a PIN file`),
    });
  } catch (error) {
    if (error instanceof Pkcs11Error) throw error;
    throw refused((error as NodeJS.ErrnoException).code ?? 'failed', { cause: error });
  }
  try {
    return bytes.toString('utf8').replace(/\r?\n$/, '');
  } finally {
    bytes.fill(0);
  }
}

/**
 * A signer's PIN between connections: read from its source at each one, and, once the token
 * refused it, remembered as a keyed digest (never the PIN itself) and not offered again until the
 * source holds another.
 */
export class PinKeeper {
  /**
   * The PIN the token last refused, as a keyed digest (the PIN itself is not kept: it is read from
   * its source at each connection, and compared with this), and why: it is not offered again.
   */
  refusedPin: RefusedPin | undefined;

  /**
   * `pinKey` keys the digests (the PIN gate's key when there is one); `closed` says the signer is
   * closed (no more reads of the PIN file).
   */
  constructor(
    private readonly uri: Pkcs11Uri,
    private readonly id: string,
    private readonly pinKey: Buffer,
    private readonly timeoutMs: number,
    private readonly pinRecheckMs: number,
    private readonly closed: () => boolean,
  ) {}

  /**
   * What a C_Login that failed says of the PIN; a refusal is remembered (see refusedPin).
   * CKR_USER_ALREADY_LOGGED_IN says nothing of it (another key's login holds the token, whatever
   * PIN this one offered): `loggedInWith` tells whether it is the PIN of that login
   * (TokenLogins.loggedInWith); another one is wrong, the token having one user PIN, and is
   * refused as the token would have.
   */
  async loginAnswer(
    error: unknown,
    digest: Buffer,
    loggedInWith: () => Promise<boolean | undefined>,
  ): Promise<PinAnswer> {
    const name = errorName(error);
    if (name === 'CKR_USER_ALREADY_LOGGED_IN') {
      // Undefined: a login this process did not make, which it cannot compare with.
      if ((await loggedInWith()) !== false) return 'accepted';
      this.rememberRefusal(digest, 'PIN_INCORRECT', ANOTHER_PIN_LOGGED_IN);
      return { code: 'PIN_INCORRECT', reason: ANOTHER_PIN_LOGGED_IN };
    }
    const code = PIN_REFUSALS[name];
    // Another error of the token, or its process stopped: nothing learnt about the PIN.
    if (!code) return 'unanswered';
    this.rememberRefusal(digest, code, name);
    return { code, reason: name };
  }

  /** Remembers the PIN (its digest) as refused: not offered again; returns the refusal's error. */
  rememberRefusal(digest: Buffer, code: PinRefusal, reason: string): Pkcs11Error {
    const refused = this.pinRefusal(code, reason);
    this.refusedPin = {
      digest,
      code,
      reason,
      message: refused.message,
      checking: false,
      checkedAt: 0,
    };
    return refused;
  }

  /** The PIN to log in with, read from its source; refused when it is the one the token refused. */
  async pinToOffer(): Promise<string | undefined> {
    const pin = await readPin(this.uri, this.timeoutMs);
    const refused = this.refusedPin;
    if (!refused || pin === undefined) return pin;
    if (!timingSafeEqual(this.pinDigest(pin), refused.digest)) {
      // Changed: offered once; a refusal is remembered again.
      if (this.refusedPin === refused) this.refusedPin = undefined;
      return pin;
    }
    const error = this.pinRefusal(refused.code, refused.reason);
    NOT_OFFERED.add(error);
    throw error;
  }

  /**
   * Reads the PIN file again, unless a read is under way or was made less than `pinRecheckMs`
   * ago: once it holds another PIN, the refusal is forgotten (the next signature offers it).
   */
  recheckPin(refused: RefusedPin): void {
    if (this.uri.pinSource === undefined || refused.checking || this.closed()) return;
    const now = performance.now();
    if (refused.checkedAt !== 0 && now - refused.checkedAt < this.pinRecheckMs) return;
    refused.checking = true;
    refused.checkedAt = now;
    readPin(this.uri, this.timeoutMs)
      .then(
        (pin) => {
          const same = pin !== undefined && timingSafeEqual(this.pinDigest(pin), refused.digest);
          if (!same && this.refusedPin === refused) this.refusedPin = undefined;
        },
        () => {}, // unreadable: still refused (a reconnection says why)
      )
      .finally(() => (refused.checking = false));
  }

  pinDigest(pin: string): Buffer {
    return createHmac('sha256', this.pinKey).update(pin, 'utf8').digest();
  }

  /** The error of a PIN refused (never the PIN): what to update, and that it is not offered again. */
  pinRefusal(code: PinRefusal, reason: string): Pkcs11Error {
    const source =
      this.uri.pinSource !== undefined
        ? `the PIN file ${pinSourcePath(this.uri.pinSource, this.id)}`
        : "the URI's pin-value (and restart)";
    const why =
      reason === ANOTHER_PIN_LOGGED_IN
        ? "the token is logged in with another key's PIN, which it accepted: a token has one user PIN"
        : `the token refused the PIN (${reason})`;
    return new Pkcs11Error(
      code,
      `${this.id}: ${why}; update ${source}: this PIN is not offered again`,
    );
  }
}

/**
 * The reason of a PIN that differs from the one whose login holds the token (C_Login answered
 * CKR_USER_ALREADY_LOGGED_IN): refused as a wrong one, by this signer and, through the PIN gate,
 * by the others of the token.
 */
export const ANOTHER_PIN_LOGGED_IN = 'CKR_USER_ALREADY_LOGGED_IN with another PIN';

/** What C_Login answers for a PIN that will not do, and the error it makes. */
const PIN_REFUSALS: Partial<Record<string, PinRefusal>> = {
  CKR_PIN_INCORRECT: 'PIN_INCORRECT',
  CKR_PIN_INVALID: 'PIN_INCORRECT',
  CKR_PIN_LEN_RANGE: 'PIN_INCORRECT',
  CKR_PIN_LOCKED: 'PIN_LOCKED',
  CKR_PIN_EXPIRED: 'PIN_LOCKED',
};

/** A PIN the token refused (see PinKeeper.refusedPin). */
export interface RefusedPin {
  digest: Buffer;
  code: PinRefusal;
  /** The CKR_ the token answered. */
  reason: string;
  /** Why signatures fail meanwhile (the refusal's message). */
  message: string;
  /** A read of the PIN file under way (unavailableReason), and when the last began. */
  checking: boolean;
  checkedAt: number;
}

/** Refusals of a PIN made without offering it to the token. */
export const NOT_OFFERED = new WeakSet<Error>();
