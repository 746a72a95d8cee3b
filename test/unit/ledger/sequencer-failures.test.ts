import { generateKeyPairSync } from 'node:crypto';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { FAILURE_REMINDER_MS, Sequencer } from '../../../src/ledger/sequencer.js';
import { newEd25519Signer, verifierKey } from '../../../src/tlog/note.js';

/**
 * A database that is down fails every round of every replica: its reason is logged once, then
 * reminded at most every FAILURE_REMINDER_MS with the rounds failed since, and the recovery once.
 * The pool is a stand-in whose connections fail as pg's do when PostgreSQL refuses them.
 */
it('logs a failure the rounds keep meeting once, reminds of it now and then, and logs the recovery', async () => {
  let down: string | undefined = 'connect ECONNREFUSED 127.0.0.1:5432';
  const pool = {
    connect: () =>
      down ? Promise.reject(new Error(down)) : Promise.resolve({ on: () => undefined }),
    query: () => Promise.reject(new Error('down')),
  };
  const lines: string[] = [];
  let now = 0;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const sequencer = new Sequencer(pool as unknown as pg.Pool, {
    signer: newEd25519Signer('example.test/log', privateKey),
    origin: 'example.test/log',
    verifierKey: verifierKey('example.test/log', publicKey),
    intervalMs: 1_000,
    now: () => now,
    logger: {
      info: (message) => lines.push(`INFO ${message}`),
      warn: (fields, message) => lines.push(`WARN ${message} ${JSON.stringify(fields)}`),
    },
  });
  const rounds = async (count: number) => {
    for (let round = 0; round < count; round++) {
      await sequencer.round();
      now += 1_000;
    }
  };
  await rounds(FAILURE_REMINDER_MS / 1_000 + 2);
  down = 'Connection terminated unexpectedly';
  await rounds(3);
  expect(lines).toEqual([
    'WARN transparency log sequencer round failed {"reason":"connect ECONNREFUSED 127.0.0.1:5432"}',
    `WARN transparency log sequencer rounds still failing {"reason":"connect ECONNREFUSED 127.0.0.1:5432","roundsSinceLastReport":${FAILURE_REMINDER_MS / 1_000}}`,
    'WARN transparency log sequencer round failed {"reason":"Connection terminated unexpectedly"}',
  ]);
  lines.length = 0;
  // Up again: a replica whose lock query fails on its own is another failure; one that gets no
  // lock (another replica holds it) has a round that succeeds.
  down = undefined;
  Object.assign(pool, {
    connect: () =>
      Promise.resolve({
        on: () => undefined,
        off: () => undefined,
        query: () => Promise.resolve({ rows: [{ locked: false }] }),
        release: () => undefined,
      }),
  });
  await rounds(2);
  expect(lines).toEqual(['INFO transparency log sequencer rounds succeed again']);
});
