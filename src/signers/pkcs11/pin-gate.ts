/**
 * PIN offers shared by processes that log in to one token as the same user: a cluster's workers,
 * each with its own module process and login. Alone, each would offer a PIN changed on the HSM (and
 * not in the PIN file) once, N attempts against the HSM's lockout counter, and each replacement of
 * a worker that died once more. Through a gate, one process offers a signer's PIN at a time while
 * the others wait for the token's answer, and a PIN the token refused is not offered again by any
 * of them until the PIN file holds another. Only keyed digests of PINs travel, never a PIN.
 */

/** The signer's error code for a refused PIN: wrong, or one only an officer can mend. */
export type PinRefusal = 'PIN_INCORRECT' | 'PIN_LOCKED';

/** A token's refusal of a PIN: our code for it, and the CKR_ the token answered. */
export interface RefusalRecord {
  code: PinRefusal;
  reason: string;
}

/** Whether to offer a PIN now, or not: the token refused it (when another process offered it). */
export type PinAdmission = { offer: true } | ({ offer: false } & RefusalRecord);

/** The token's answer to a PIN offered; `unanswered` when it gave none (a timeout, a token gone). */
export type PinAnswer = 'accepted' | 'unanswered' | RefusalRecord;

export interface PinGate {
  /** The key of the PIN digests (HMAC-SHA-256): the same in every process sharing the gate. */
  readonly key: Buffer;
  /**
   * Before `signer` offers the PIN whose digest is `digest` (base64): resolves once it may, or
   * with the refusal the token gave that PIN. Every admission that offers must be settled.
   */
  admit(signer: string, digest: string): Promise<PinAdmission>;
  /** What the token answered to a PIN admitted. */
  settle(signer: string, digest: string, answer: PinAnswer): void;
}

const OFFER: PinAdmission = { offer: true };

interface Waiter<P> {
  process: P;
  digest: string;
  resolve: (admission: PinAdmission) => void;
}

/** One signer's PIN offers across the processes. */
interface SignerPins<P> {
  /** The offer under way, whose answer the others wait for. */
  offering?: { process: P; digest: string } | undefined;
  /** The PIN the token refused last (as the signer itself remembers only the last). */
  refused?: { digest: string } & RefusalRecord;
  waiting: Waiter<P>[];
}

/**
 * The state behind a gate, kept where every process of the gate can ask (a cluster's primary):
 * per signer (its URI's display form, the same in every process), who offers a PIN now and which
 * PIN the token refused. `P` names a process that asks.
 */
export class PinArbiter<P> {
  private readonly signers = new Map<string, SignerPins<P>>();

  admit(process: P, signer: string, digest: string): Promise<PinAdmission> {
    let pins = this.signers.get(signer);
    if (!pins) {
      pins = { waiting: [] };
      this.signers.set(signer, pins);
    }
    return new Promise((resolve) => {
      pins.waiting.push({ process, digest, resolve });
      this.admitNext(pins);
    });
  }

  /**
   * The answer to an offer. A refusal is remembered whoever reports it; only the process that
   * holds the offer ends it (those let through after an acceptance hold none).
   */
  settle(process: P, signer: string, digest: string, answer: PinAnswer): void {
    const pins = this.signers.get(signer);
    if (!pins) return;
    if (typeof answer === 'object') pins.refused = { digest, ...answer };
    const { offering } = pins;
    if (offering?.process !== process || offering.digest !== digest) return;
    pins.offering = undefined;
    if (answer === 'accepted') {
      // The same PIN, just accepted: those waiting to offer it offer it now, together.
      for (const waiter of pins.waiting.filter((w) => w.digest === digest)) {
        pins.waiting.splice(pins.waiting.indexOf(waiter), 1);
        waiter.resolve(OFFER);
      }
    }
    this.admitNext(pins);
  }

  /** A process that exited: its offer ends unanswered, its waits end. */
  forget(process: P): void {
    for (const [signer, pins] of this.signers) {
      pins.waiting = pins.waiting.filter((waiter) => waiter.process !== process);
      const { offering } = pins;
      if (offering?.process === process) {
        this.settle(process, signer, offering.digest, 'unanswered');
      }
    }
  }

  /** Answers the waiters in order while no offer is under way: refused, or the next offer. */
  private admitNext(pins: SignerPins<P>): void {
    while (!pins.offering) {
      const waiter = pins.waiting.shift();
      if (!waiter) return;
      const { refused } = pins;
      if (refused?.digest === waiter.digest) {
        waiter.resolve({ offer: false, code: refused.code, reason: refused.reason });
      } else {
        pins.offering = { process: waiter.process, digest: waiter.digest };
        waiter.resolve(OFFER);
      }
    }
  }
}
