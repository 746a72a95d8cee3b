import { Pkcs11Error } from '../../signers/pkcs11/pkcs11-error.js';
import type { PinAdmission, PinGate } from '../../signers/pkcs11/pin-gate.js';
import { isMessage, type PinAdmitMessage, type PinSettledMessage } from './messages.js';

const primaryGone = () =>
  new Pkcs11Error(
    'TOKEN_UNAVAILABLE',
    'the cluster primary, which coordinates PIN offers between workers, is gone',
  );

/**
 * A worker's PIN gate: asks the primary's PinArbiter before its PKCS#11 signers offer a PIN, and
 * tells it the token's answer. `key` is the primary's (SetupMessage.pinKey), so that every
 * worker's digest of one PIN is the same.
 */
export function primaryPinGate(key: Buffer): PinGate {
  let lastId = 0;
  const waiting = new Map<
    number,
    { resolve: (admission: PinAdmission) => void; reject: (error: Error) => void }
  >();
  process.on('message', (message: unknown) => {
    if (!isMessage(message, 'tsa:pin-admission')) return;
    waiting.get(message.id)?.resolve(message.admission);
    waiting.delete(message.id);
  });
  // This worker drains: nobody is left to say whether a PIN may be offered.
  process.once('disconnect', () => {
    for (const { reject } of waiting.values()) reject(primaryGone());
    waiting.clear();
  });
  return {
    key,
    admit: (scope, digest) =>
      new Promise((resolve, reject) => {
        if (!process.connected) return reject(primaryGone());
        const id = ++lastId;
        waiting.set(id, { resolve, reject });
        process.send?.({ type: 'tsa:pin-admit', id, scope, digest } satisfies PinAdmitMessage);
      }),
    settle: (ticket, answer) => {
      if (!process.connected) return;
      process.send?.({ type: 'tsa:pin-settled', ticket, answer } satisfies PinSettledMessage);
    },
  };
}
