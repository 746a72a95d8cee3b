import { withDeadline } from '../../deadline.js';
import type { PinAdmission, PinAnswer, PinGate } from './pin-gate.js';
import { CKU_USER } from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';
import type { Handle, LoadedModule } from './pkcs11-module.js';
import { NOT_OFFERED, type PinKeeper } from './pkcs11-pin.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

/** What a login needs of its signer. */
export interface LoginContext {
  readonly module: LoadedModule;
  readonly uri: Pkcs11Uri;
  /** The key's URI, for errors. */
  readonly id: string;
  /** The PIN read at each connection, and the one the token refused. */
  readonly pins: PinKeeper;
  /** Where PIN offers are shared with the token's other signers (pin-gate.ts), if anywhere. */
  readonly gate: PinGate | undefined;
  /** --pkcs11-timeout: the PIN gate's admission is waited for as long as a module call. */
  readonly timeoutMs: number;
  /** The signer's deadline of a module call. */
  readonly answered: <T>(call: Promise<T>, name: string) => Promise<T>;
  /** The signer's naming of a module call's error. */
  readonly wrap: (error: unknown, name: string) => Pkcs11Error;
}

/** Where a reconnection is: whether it waits for the PIN gate to admit its login. */
export interface GateWait {
  atGate: boolean;
}

/**
 * Errors of a reconnection in which neither the module nor the token was asked anything that
 * failed: the PIN gate did not admit its login in time (a cluster's primary slow, another signer's
 * login under way). They neither re-initialize the module nor feed the breaker.
 */
export const NOT_ASKED = new WeakSet<Error>();

/**
 * A signer's login to its token (C_Login as CKU_USER), in a session of a connection being made,
 * through the PIN gate when there is one.
 */
export class TokenLogin {
  private readonly module: LoadedModule;
  private readonly id: string;
  private readonly pins: PinKeeper;
  private readonly gate: PinGate | undefined;
  private readonly timeoutMs: number;
  private readonly answered: LoginContext['answered'];
  private readonly wrap: LoginContext['wrap'];
  /** The token and user the PIN is for, as the gate knows them (see pinScope). */
  private readonly scope: string;

  constructor(context: LoginContext) {
    this.module = context.module;
    this.id = context.id;
    this.pins = context.pins;
    this.gate = context.gate;
    this.timeoutMs = context.timeoutMs;
    this.answered = context.answered;
    this.wrap = context.wrap;
    this.scope = pinScope(context.uri);
  }

  /**
   * Offers the PIN, through the PIN gate when there is one: while another signer of the token
   * offers it, this one waits for the token's answer, and one the token refused there is refused
   * here unoffered. CKR_USER_ALREADY_LOGGED_IN (another key's login holds the token, in the
   * module's `generation`) passes only for the PIN of that login (TokenLogins).
   */
  async login(
    session: Handle,
    slot: Handle,
    generation: number,
    pin: string | undefined,
    progress?: GateWait,
  ): Promise<void> {
    if (pin === undefined) return;
    const digest = this.pins.pinDigest(pin);
    const { gate } = this;
    let ticket: number | undefined;
    if (gate) {
      let admission: PinAdmission;
      if (progress) progress.atGate = true;
      try {
        admission = await this.admitted(gate, digest);
      } finally {
        if (progress) progress.atGate = false;
      }
      if (!admission.offer) {
        const error = this.pins.rememberRefusal(digest, admission.code, admission.reason);
        NOT_OFFERED.add(error);
        throw error;
      }
      ticket = admission.ticket;
    }
    let login: Promise<void>;
    try {
      login = this.module.calls.C_Login(session, CKU_USER, pin);
    } catch (error) {
      login = Promise.reject(error);
    }
    const offer = this.module.logins.offer(generation, slot, pin, login);
    // The token's answer, however late (many HSMs answer a wrong PIN slowly, maybe past the
    // deadline below): a refusal is remembered, and the gate's offer lasts until then, so that no
    // other signer offers the PIN while the token still weighs it.
    const answer = login.then(
      (): PinAnswer => 'accepted',
      (error: unknown) =>
        this.pins.loginAnswer(error, digest, () => this.module.logins.loggedInWith(offer)),
    );
    if (gate && ticket !== undefined) {
      const offered = ticket;
      void answer.then((settled) => gate.settle(offered, settled));
    }
    try {
      await this.answered(login, 'C_Login');
      this.pins.refusedPin = undefined; // another PIN, which the file holds now, was refused before
    } catch (error) {
      if (error instanceof Pkcs11Error) throw error; // not answered
      // The token's answer, as loginAnswer read it (and remembered a refusal).
      const settled = await answer;
      if (settled === 'accepted') return; // CKR_USER_ALREADY_LOGGED_IN, with this PIN
      if (settled === 'unanswered') throw this.wrap(error, 'C_Login');
      throw this.pins.pinRefusal(settled.code, settled.reason);
    }
  }

  /**
   * The gate's admission of the PIN, within the deadline of a module call (a cluster's primary
   * that never answers must not hold the connection). One that comes later is still heard: a
   * refusal is remembered, and an offer admitted is settled unanswered at once, or the gate would
   * keep every other signer of the token waiting for it.
   */
  private async admitted(gate: PinGate, digest: Buffer): Promise<PinAdmission> {
    const admitting = gate.admit(this.scope, digest.toString('base64'));
    try {
      return await withDeadline(
        this.timeoutMs,
        undefined,
        () => admitting,
        (options) =>
          new Pkcs11Error(
            'TIMEOUT',
            `${this.id}: the PIN gate did not admit the login within ${this.timeoutMs} ms`,
            options,
          ),
      );
    } catch (caught) {
      // Neither the module nor the token was asked: see the signer's connectAgain and failure.
      const error =
        caught instanceof Pkcs11Error
          ? caught
          : new Pkcs11Error('TOKEN_UNAVAILABLE', `${this.id}: the PIN gate failed`, {
              cause: caught,
            });
      NOT_ASKED.add(error);
      void admitting.then(
        (late) => {
          if (late.offer) gate.settle(late.ticket, 'unanswered');
          else this.pins.rememberRefusal(digest, late.code, late.reason);
        },
        () => {},
      );
      throw error;
    }
  }
}

/**
 * The token a login is for, as a PIN gate's scope: the module and the URI's token attributes (a
 * PKCS#11 login belongs to the token, whichever key it is for). Never the PIN.
 */
function pinScope(uri: Pkcs11Uri): string {
  const { modulePath, token, manufacturer, model, serial, slotId } = uri;
  const { slotDescription, slotManufacturer } = uri;
  return JSON.stringify([
    modulePath,
    token,
    manufacturer,
    model,
    serial,
    slotId?.toString(),
    slotDescription,
    slotManufacturer,
  ]);
}
