/**
 * The record of PKCS#11 PIN offers behind a PIN gate (a cluster's primary, or one server's keys):
 * one signer offers a token's PIN at a time, the others wait for the token's answer; a PIN the
 * token refused is refused to every signer without being offered, until another PIN is accepted;
 * an offer left unanswered, or by a worker that exited, passes to the next; answers are matched to
 * offers by their ticket.
 */
import { describe, expect, it } from 'vitest';
import {
  localPinGate,
  PinArbiter,
  type PinAdmission,
} from '../../../src/signers/pkcs11/pin-gate.js';

const REFUSED = { code: 'PIN_INCORRECT', reason: 'CKR_PIN_INCORRECT' } as const;

/** The admissions resolved so far, by name, in the order they resolved. */
function recorder() {
  const answers: [string, PinAdmission][] = [];
  const track = (name: string, admission: Promise<PinAdmission>) =>
    void admission.then((value) => answers.push([name, value]));
  /** The ticket `name` was given. */
  const ticket = (name: string): number => {
    const admission = answers.find(([who]) => who === name)?.[1];
    if (!admission?.offer) throw new Error(`${name} was not admitted`);
    return admission.ticket;
  };
  const names = () => answers.map(([name]) => name);
  return { answers, track, ticket, names };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const offered = { offer: true, ticket: expect.any(Number) as number };

describe('PinArbiter', () => {
  it('lets one worker offer a PIN while the others wait, then shares a refusal unoffered', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track, ticket } = recorder();
    track('w1', pins.admit('w1', 'token', 'old'));
    track('w2', pins.admit('w2', 'token', 'old'));
    track('w3', pins.admit('w3', 'token', 'old'));
    await turn();
    expect(answers).toEqual([['w1', offered]]);

    pins.settle(ticket('w1'), REFUSED);
    await turn();
    expect(answers.slice(1)).toEqual([
      ['w2', { offer: false, ...REFUSED }],
      ['w3', { offer: false, ...REFUSED }],
    ]);
    // A replacement worker, later: refused too, without an offer.
    expect(await pins.admit('w4', 'token', 'old')).toEqual({ offer: false, ...REFUSED });
    // Another PIN (the file was updated) is offered.
    expect(await pins.admit('w4', 'token', 'new')).toEqual(offered);
  });

  it('forgets a refused PIN once another is accepted, as a signer forgets it when its file changes', async () => {
    const pins = new PinArbiter<string>();
    // B written to the PIN file before the HSM has it: refused.
    const b = await pins.admit('w1', 'token', 'B');
    pins.settle((b as { ticket: number }).ticket, REFUSED);
    // The file back to A, the HSM's PIN: accepted.
    const a = await pins.admit('w1', 'token', 'A');
    pins.settle((a as { ticket: number }).ticket, 'accepted');
    // The rotation done right (HSM and file to B): B is offered again.
    expect(await pins.admit('w2', 'token', 'B')).toEqual(offered);
  });

  it('after an acceptance, those waiting with the same PIN offer it together; another PIN waits its turn', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track, ticket, names } = recorder();
    track('w1', pins.admit('w1', 'token', 'pin'));
    track('w2', pins.admit('w2', 'token', 'other'));
    track('w3', pins.admit('w3', 'token', 'pin'));
    await turn();
    pins.settle(ticket('w1'), 'accepted');
    await turn();
    expect(names()).toEqual(['w1', 'w3', 'w2']);
    // w2 holds the offer now: a fourth waits for its answer.
    track('w4', pins.admit('w4', 'token', 'other'));
    await turn();
    expect(answers).toHaveLength(3);
    pins.settle(ticket('w2'), { code: 'PIN_LOCKED', reason: 'CKR_PIN_LOCKED' });
    await turn();
    expect(answers[3]).toEqual([
      'w4',
      { offer: false, code: 'PIN_LOCKED', reason: 'CKR_PIN_LOCKED' },
    ]);
  });

  it('an answer ends only the offer of its ticket: one let through after an acceptance ends none', async () => {
    const pins = new PinArbiter<string>();
    const { track, ticket, names } = recorder();
    // Two signers of one token in w1: s1 offers, s2 waits; s1's acceptance lets s2 through.
    track('s1', pins.admit('w1', 'token', 'pin'));
    track('s2', pins.admit('w1', 'token', 'pin'));
    await turn();
    pins.settle(ticket('s1'), 'accepted');
    await turn();
    // s1 reconnects and offers again (it holds the offer); w2 waits.
    track('s1-again', pins.admit('w1', 'token', 'pin'));
    track('w2', pins.admit('w2', 'token', 'pin'));
    await turn();
    expect(names()).toEqual(['s1', 's2', 's1-again']);
    pins.settle(ticket('s2'), 'unanswered'); // s2's late answer: not the offer under way
    await turn();
    expect(names()).toEqual(['s1', 's2', 's1-again']);
    pins.settle(ticket('s1-again'), 'unanswered');
    await turn();
    expect(names()).toEqual(['s1', 's2', 's1-again', 'w2']);
  });

  it('an offer left unanswered, or by a worker that exited, passes to the next waiter', async () => {
    const pins = new PinArbiter<string>();
    const { track, ticket, names } = recorder();
    track('w1', pins.admit('w1', 'token', 'pin'));
    track('w2', pins.admit('w2', 'token', 'pin'));
    track('w3', pins.admit('w3', 'token', 'pin'));
    await turn();
    pins.settle(ticket('w1'), 'unanswered'); // the module's process stopped: nothing learnt
    await turn();
    expect(names()).toEqual(['w1', 'w2']);
    pins.forget('w2'); // exited while offering
    await turn();
    expect(names()).toEqual(['w1', 'w2', 'w3']);
  });

  it('a worker that exits while waiting is forgotten; a ticket settled twice counts once', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track, ticket, names } = recorder();
    track('w1', pins.admit('w1', 'token', 'pin'));
    track('w2', pins.admit('w2', 'token', 'pin'));
    track('w3', pins.admit('w3', 'token', 'pin'));
    await turn();
    pins.forget('w2');
    pins.settle(ticket('w1'), 'unanswered');
    await turn();
    expect(names()).toEqual(['w1', 'w3']);
    pins.settle(ticket('w1'), REFUSED); // stale: its offer ended, nothing learnt
    track('w4', pins.admit('w4', 'token', 'pin'));
    pins.settle(ticket('w3'), 'unanswered');
    await turn();
    expect(answers.at(-1)).toEqual(['w4', offered]);
  });

  it('keeps tokens apart', async () => {
    const pins = new PinArbiter<string>();
    const tsa = await pins.admit('w1', 'tsa-token', 'pin');
    const ledger = await pins.admit('w2', 'ledger-token', 'pin');
    pins.settle((tsa as { ticket: number }).ticket, REFUSED);
    pins.settle((ledger as { ticket: number }).ticket, 'accepted');
    // The same PIN refused by another token is offered to this one.
    expect(await pins.admit('w3', 'ledger-token', 'pin')).toEqual(offered);
    expect(await pins.admit('w3', 'tsa-token', 'pin')).toEqual({ offer: false, ...REFUSED });
  });
});

describe('localPinGate', () => {
  it("serves one process's signers: one offer at a time, a refusal shared", async () => {
    const gate = localPinGate();
    const first = await gate.admit('token', 'pin');
    const second = gate.admit('token', 'pin');
    expect(first).toEqual(offered);
    gate.settle((first as { ticket: number }).ticket, REFUSED);
    expect(await second).toEqual({ offer: false, ...REFUSED });
  });
});
