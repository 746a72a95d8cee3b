/**
 * Each signature in flight has a thread of its own in the module's process (~8.5 MiB each): their
 * number is capped per module, whatever --pkcs11-max-sessions (up to 1024) says. Signatures beyond
 * the cap wait for a thread, within their deadline, holding their session; a client that goes away
 * meanwhile leaves, and its session goes back to the pool.
 */
import { randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import { loadInHost, type LoadModule } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import type { Pkcs11Calls } from '../../../../src/signers/pkcs11/pkcs11-host.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { signerFailureCounts } from '../../../helpers/fault-tsa.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';

const hsm = new SoftHsm();
/** The module's process, as loaded (its calls unaltered). */
let host: Pkcs11Calls | undefined;
/** Signatures the module's process is making, each held until the test lets it go on. */
const held: (() => void)[] = [];
let signing = 0;
let mostSigning = 0;
let closed = 0;

const holdingModule: LoadModule = async (path, settings) => {
  const calls = await loadInHost(path, settings);
  host = calls;
  const overrides: Partial<Pkcs11Calls> = {
    sign: async (...args) => {
      mostSigning = Math.max(mostSigning, ++signing);
      try {
        await new Promise<void>((resolve) => held.push(resolve));
        return await calls.sign(...args);
      } finally {
        signing--;
      }
    },
    C_CloseSession: (...args) => {
      closed++;
      return calls.C_CloseSession(...args);
    },
  };
  return overridden(calls, overrides);
};

let signer: Pkcs11Signer;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  signer = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
    loadModule: holdingModule,
    maxSessions: 4,
    maxSigningThreads: 2,
  });
});
afterAll(async () => {
  try {
    await signer?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
  }
});

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Until the module's process has answered every call sent before now (its control thread answers
 * in order: the sessions being opened), and the signer has gone on with what it got.
 */
async function settled(): Promise<void> {
  for (let i = 0; i < 3; i++) await host!.C_GetSlotList(true);
  for (let i = 0; i < 3; i++) await turn();
}

async function signsAndVerifies(): Promise<boolean> {
  const data = randomBytes(20);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  return verify(digest, data, key, signature);
}

describe("the module process's signing threads", () => {
  it('are capped per module: more signatures wait for one, with their sessions, and all sign', async () => {
    const results = Array.from({ length: 8 }, signsAndVerifies);
    while (held.length < 2) await turn();
    await settled();
    // Four sessions, so four signatures past the session pool: two in the module, two waiting.
    expect(held).toHaveLength(2);
    while (held.length > 0) {
      held.shift()?.();
      while (held.length === 0 && signing > 0) await turn();
      await settled();
    }
    expect(await Promise.all(results)).toEqual(Array(8).fill(true));
    expect(mostSigning).toBe(2);
  });

  it('a client that goes away while its signature waits for a thread leaves; its session goes back to the pool', async () => {
    const failuresBefore = await signerFailureCounts();
    const busy = [signsAndVerifies(), signsAndVerifies()];
    while (held.length < 2) await turn();
    const client = new AbortController();
    const leaving = signer.sign(randomBytes(20), client.signal);
    leaving.catch(() => {});
    await settled();
    const closedBefore = closed;
    client.abort(new Error('the client went away'));
    await expect(leaving).rejects.toThrow('the client went away');
    expect((await signerFailureCounts())['aborted']).toBe((failuresBefore['aborted'] ?? 0) + 1);
    for (const release of held.splice(0)) release();
    expect(await Promise.all(busy)).toEqual([true, true]);
    expect(closed).toBe(closedBefore); // its session was not closed: it signs the next one
    const next = signsAndVerifies();
    while (held.length === 0) await turn();
    held.shift()?.();
    expect(await next).toBe(true);
    expect(signer.unavailableReason()).toBeUndefined();
  });
});
