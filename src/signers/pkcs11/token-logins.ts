import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Handle } from './pkcs11-host.js';

/**
 * The PINs that logged the tokens of one module in, in this process, as keyed digests (never a
 * PIN). A PKCS#11 login is the application's, for the whole token, not a session's: once one key's
 * C_Login is accepted, another key's on the same token answers CKR_USER_ALREADY_LOGGED_IN whatever
 * PIN it offers, a wrong one too, and without a PIN its key is visible as well. That key would then
 * work only until the module is initialized again (a C_Finalize, a new module process: every token
 * logged out), when its own PIN is offered for real, or none is. So its PIN is compared with the
 * one the token accepted, per module generation.
 */
export class TokenLogins {
  /** The digests' key: this module's own, so that every signer of it digests alike. */
  private readonly key = randomBytes(32);
  /** Per token (slot) of the latest generation seen, and of older ones until a newer is seen. */
  private readonly tokens = new Map<string, TokenLogin>();
  private generation = 0;
  private sequence = 0;

  /**
   * Records the offer of `pin` to the token in `slot`, in the module's `generation`, whose answer
   * `login` is (the C_Login just sent).
   */
  offer(generation: number, slot: Handle, pin: string, login: Promise<unknown>): LoginOffer {
    if (generation > this.generation) {
      // A new generation: every token was logged out.
      for (const [name, token] of this.tokens) {
        if (token.generation < generation) this.tokens.delete(name);
      }
      this.generation = generation;
    }
    const name = `${generation}:${slot.toString('hex')}`;
    let token = this.tokens.get(name);
    if (!token) {
      token = { generation, pending: new Set() };
      this.tokens.set(name, token);
    }
    const offer: LoginOffer = {
      token,
      sequence: ++this.sequence,
      digest: createHmac('sha256', this.key).update(pin, 'utf8').digest(),
      answered: login.then(
        () => true,
        () => false,
      ),
    };
    const held = token;
    held.pending.add(offer);
    void offer.answered.then((accepted) => {
      held.pending.delete(offer);
      if (accepted && (!held.accepted || held.accepted.sequence < offer.sequence)) {
        held.accepted = offer;
      }
    });
    return offer;
  }

  /**
   * For an offer the token answered CKR_USER_ALREADY_LOGGED_IN: whether its PIN is the one whose
   * login holds the token (the offers made before it are answered before it: the module's calls
   * other than signatures run one after another, in the order sent). Undefined when no offer of
   * this process was accepted: a login it did not make (some HSMs share one between applications),
   * which it cannot compare with.
   */
  async loggedInWith(offer: LoginOffer): Promise<boolean | undefined> {
    const earlier = [...offer.token.pending].filter((each) => each.sequence < offer.sequence);
    // Their bookkeeping (offer) runs before this wait ends: it was chained first.
    await Promise.all(earlier.map((each) => each.answered));
    const { accepted } = offer.token;
    if (!accepted) return undefined;
    return timingSafeEqual(accepted.digest, offer.digest);
  }
}

/** A token's offers in one generation of the module. */
export interface TokenLogin {
  generation: number;
  /** Offers not answered yet. */
  pending: Set<LoginOffer>;
  /** The last offer the token accepted. */
  accepted?: LoginOffer;
}

/** One C_Login: its PIN's digest, and whether the token accepted it. */
export interface LoginOffer {
  readonly token: TokenLogin;
  readonly sequence: number;
  readonly digest: Buffer;
  readonly answered: Promise<boolean>;
}
