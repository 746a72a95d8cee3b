import { randomBytes } from 'node:crypto';

/**
 * PIN offers shared by the signers that log in to one token as the same user: a server's keys on
 * one token (profiles, the --ledger-key), and a cluster's workers, each with its own module
 * process and login. Alone, each would offer a PIN changed on the HSM (and not in the PIN file)
 * once, one attempt per key and worker against the HSM's lockout counter, and each replacement of
 * a worker that died once more. Through a gate, one of them offers a token's PIN at a time while
 * the others wait for the token's answer, however late, and a PIN the token refused is not offered
 * again by any of them until another PIN is accepted. No PIN is sent, only keyed digests.
 */

/** The signer's error code for a refused PIN: wrong, or one only an officer can mend. */
export type PinRefusal = 'PIN_INCORRECT' | 'PIN_LOCKED';

/** A token's refusal of a PIN: our code for it, and the CKR_ the token answered. */
export interface RefusalRecord {
  code: PinRefusal;
  reason: string;
}

/**
 * Offer the PIN now, and settle the ticket with the token's answer; or do not: the token refused
 * it (when another signer offered it).
 */
export type PinAdmission = { offer: true; ticket: number } | ({ offer: false } & RefusalRecord);

/** The token's answer to a PIN offered; `unanswered` when it gave none (its process stopped). */
export type PinAnswer = 'accepted' | 'unanswered' | RefusalRecord;

export interface PinGate {
  /** The key of the PIN digests (HMAC-SHA-256): the same for every signer sharing the gate. */
  readonly key: Buffer;
  /**
   * Before a signer offers the PIN whose digest is `digest` (base64) to the token and user that
   * `scope` names (pinScope): resolves once it may, or with the refusal the token gave that PIN.
   */
  admit(scope: string, digest: string): Promise<PinAdmission>;
  /** What the token answered to the offer of `ticket` (exactly once per offer admitted). */
  settle(ticket: number, answer: PinAnswer): void;
}

/**
 * One gate for the signers of one process (the single-process server's keys): the arbiter in the
 * process itself.
 */
export function localPinGate(): PinGate {
  const arbiter = new PinArbiter<null>();
  return {
    key: randomBytes(32),
    admit: (scope, digest) => arbiter.admit(null, scope, digest),
    settle: (ticket, answer) => arbiter.settle(ticket, answer),
  };
}

interface Waiter<P> {
  process: P;
  digest: string;
  resolve: (admission: PinAdmission) => void;
}

/** One token's PIN offers across the signers. */
interface ScopePins<P> {
  /** The ticket of the offer under way, whose answer the others wait for. */
  offering?: number | undefined;
  /** The PIN the token refused last, until another is accepted. */
  refused?: ({ digest: string } & RefusalRecord) | undefined;
  waiting: Waiter<P>[];
}

interface Ticket<P> {
  process: P;
  scope: string;
  digest: string;
}

/**
 * The state behind a gate, kept where every signer of the gate can ask (a cluster's primary, or
 * the process itself): per token and user (`scope`), which offer is under way and which PIN the
 * token refused. `P` names the process that asks, so that the offers of one that exits end.
 */
export class PinArbiter<P> {
  private readonly scopes = new Map<string, ScopePins<P>>();
  private readonly tickets = new Map<number, Ticket<P>>();
  private lastTicket = 0;

  admit(process: P, scope: string, digest: string): Promise<PinAdmission> {
    let pins = this.scopes.get(scope);
    if (!pins) {
      pins = { waiting: [] };
      this.scopes.set(scope, pins);
    }
    return new Promise((resolve) => {
      pins.waiting.push({ process, digest, resolve });
      this.admitNext(scope, pins);
    });
  }

  /**
   * The token's answer to the offer of `ticket`. A refusal is remembered; an acceptance forgets
   * the PIN refused before (the file was mended; as a signer forgets its own refusal). Those let
   * through after an acceptance hold no offer: only the holder's answer lets the next one offer.
   */
  settle(ticket: number, answer: PinAnswer): void {
    const offer = this.tickets.get(ticket);
    if (!offer) return;
    this.tickets.delete(ticket);
    const pins = this.scopes.get(offer.scope);
    if (!pins) return;
    if (answer === 'accepted') pins.refused = undefined;
    else if (answer !== 'unanswered') pins.refused = { digest: offer.digest, ...answer };
    if (pins.offering !== ticket) return;
    pins.offering = undefined;
    if (answer === 'accepted') {
      // The same PIN, just accepted: those waiting to offer it offer it now, together.
      for (const waiter of pins.waiting.filter((w) => w.digest === offer.digest)) {
        pins.waiting.splice(pins.waiting.indexOf(waiter), 1);
        waiter.resolve({ offer: true, ticket: this.issue(waiter, offer.scope) });
      }
    }
    this.admitNext(offer.scope, pins);
  }

  /** A process that exited: its offers end unanswered, its waits end. */
  forget(process: P): void {
    for (const pins of this.scopes.values()) {
      pins.waiting = pins.waiting.filter((waiter) => waiter.process !== process);
    }
    for (const [ticket, offer] of [...this.tickets]) {
      if (offer.process === process) this.settle(ticket, 'unanswered');
    }
  }

  /** Answers the waiters in order while no offer is under way: refused, or the next offer. */
  private admitNext(scope: string, pins: ScopePins<P>): void {
    while (pins.offering === undefined) {
      const waiter = pins.waiting.shift();
      if (!waiter) return;
      const { refused } = pins;
      if (refused?.digest === waiter.digest) {
        waiter.resolve({ offer: false, code: refused.code, reason: refused.reason });
      } else {
        const ticket = this.issue(waiter, scope);
        pins.offering = ticket;
        waiter.resolve({ offer: true, ticket });
      }
    }
  }

  private issue(waiter: Waiter<P>, scope: string): number {
    const ticket = ++this.lastTicket;
    this.tickets.set(ticket, { process: waiter.process, scope, digest: waiter.digest });
    return ticket;
  }
}
