import { randomBytes } from 'node:crypto';
import type { LedgerEntry } from '../../src/ledger/entry.js';

/** A ledger entry with random serial number and token (what the ledger stores, unchecked). */
export function randomLedgerEntry(): LedgerEntry {
  return {
    serial: randomBytes(20),
    genTime: new Date(),
    policy: '1.2.3',
    hashAlgorithm: 'sha256',
    hashedMessage: randomBytes(32),
    token: randomBytes(100),
  };
}
