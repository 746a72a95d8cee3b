/**
 * The cluster primary's record of PKCS#11 PIN offers: one worker offers a signer's PIN at a time,
 * the others wait for the token's answer; a PIN the token refused is refused to every worker
 * without being offered; a worker that exits mid-offer hands the offer to the next.
 */
import { describe, expect, it } from 'vitest';
import { PinArbiter, type PinAdmission } from '../../../src/signers/pkcs11/pin-gate.js';

const REFUSED = { code: 'PIN_INCORRECT', reason: 'CKR_PIN_INCORRECT' } as const;

/** The admissions resolved so far, by name, in the order they resolved. */
function recorder() {
  const answers: [string, PinAdmission][] = [];
  const track = (name: string, admission: Promise<PinAdmission>) =>
    void admission.then((value) => answers.push([name, value]));
  return { answers, track };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('PinArbiter', () => {
  it('lets one worker offer a PIN while the others wait, then shares a refusal unoffered', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track } = recorder();
    track('w1', pins.admit('w1', 'key', 'old'));
    track('w2', pins.admit('w2', 'key', 'old'));
    track('w3', pins.admit('w3', 'key', 'old'));
    await turn();
    expect(answers).toEqual([['w1', { offer: true }]]);

    pins.settle('w1', 'key', 'old', REFUSED);
    await turn();
    expect(answers.slice(1)).toEqual([
      ['w2', { offer: false, ...REFUSED }],
      ['w3', { offer: false, ...REFUSED }],
    ]);
    // A replacement worker, later: refused too, without an offer.
    expect(await pins.admit('w4', 'key', 'old')).toEqual({ offer: false, ...REFUSED });
    // Another PIN (the file was updated) is offered again.
    expect(await pins.admit('w4', 'key', 'new')).toEqual({ offer: true });
  });

  it('after an acceptance, those waiting with the same PIN offer it together; another PIN waits its turn', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track } = recorder();
    track('w1', pins.admit('w1', 'key', 'pin'));
    track('w2', pins.admit('w2', 'key', 'other'));
    track('w3', pins.admit('w3', 'key', 'pin'));
    await turn();
    pins.settle('w1', 'key', 'pin', 'accepted');
    await turn();
    expect(answers).toEqual([
      ['w1', { offer: true }],
      ['w3', { offer: true }],
      ['w2', { offer: true }],
    ]);
    // w2 holds the offer now: a fourth waits for its answer.
    track('w4', pins.admit('w4', 'key', 'other'));
    await turn();
    expect(answers).toHaveLength(3);
    pins.settle('w2', 'key', 'other', { code: 'PIN_LOCKED', reason: 'CKR_PIN_LOCKED' });
    await turn();
    expect(answers[3]).toEqual([
      'w4',
      { offer: false, code: 'PIN_LOCKED', reason: 'CKR_PIN_LOCKED' },
    ]);
  });

  it('an offer left unanswered, or by a worker that exited, passes to the next waiter', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track } = recorder();
    track('w1', pins.admit('w1', 'key', 'pin'));
    track('w2', pins.admit('w2', 'key', 'pin'));
    track('w3', pins.admit('w3', 'key', 'pin'));
    await turn();
    pins.settle('w1', 'key', 'pin', 'unanswered'); // C_Login timed out: nothing learnt
    await turn();
    expect(answers.map(([name]) => name)).toEqual(['w1', 'w2']);
    pins.forget('w2'); // exited while offering
    await turn();
    expect(answers.map(([name]) => name)).toEqual(['w1', 'w2', 'w3']);
  });

  it('a worker that exits while waiting is forgotten; a stale settle changes nothing', async () => {
    const pins = new PinArbiter<string>();
    const { answers, track } = recorder();
    track('w1', pins.admit('w1', 'key', 'pin'));
    track('w2', pins.admit('w2', 'key', 'pin'));
    track('w3', pins.admit('w3', 'key', 'pin'));
    await turn();
    pins.forget('w2');
    pins.settle('w2', 'key', 'pin', 'accepted'); // not its offer
    await turn();
    expect(answers.map(([name]) => name)).toEqual(['w1']);
    pins.settle('w1', 'key', 'pin', 'accepted');
    await turn();
    expect(answers.map(([name]) => name)).toEqual(['w1', 'w3']);
  });

  it('keeps signers apart', async () => {
    const pins = new PinArbiter<string>();
    expect(await pins.admit('w1', 'tsa-key', 'pin')).toEqual({ offer: true });
    expect(await pins.admit('w2', 'ledger-key', 'pin')).toEqual({ offer: true });
    pins.settle('w1', 'tsa-key', 'pin', REFUSED);
    pins.settle('w2', 'ledger-key', 'pin', 'accepted');
    // The same PIN refused for another signer (another token, or user) is offered for this one.
    expect(await pins.admit('w3', 'ledger-key', 'pin')).toEqual({ offer: true });
    expect(await pins.admit('w3', 'tsa-key', 'pin')).toEqual({ offer: false, ...REFUSED });
  });
});
