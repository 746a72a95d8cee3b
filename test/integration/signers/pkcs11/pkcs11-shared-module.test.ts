/**
 * Two signers, two keys, one PKCS#11 module (the server's key and a pkcs11: --ledger-key, or two
 * profiles, on one HSM): they share its process, its C_Initialize and its handle numbers. When one
 * of them re-initializes the module (its token failed) or its process is replaced, the other's
 * handles are stale and may name the first one's key or sessions now: each must find its own key
 * again, never sign with the other's, and the module must be restarted once for both.
 */
import { randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSignatureArguments } from '../../../../src/crypto/key-algorithms.js';
import {
  loadInHost,
  type HostSettings,
  type LoadModule,
  type Pkcs11Calls,
} from '../../../../src/signers/pkcs11/pkcs11-module.js';
import {
  createPkcs11Signer,
  type Pkcs11Signer,
} from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SoftHsm } from '../../../helpers/softhsm.js';
import { overridden } from '../../../helpers/overridden.js';

const hsm = new SoftHsm();
/** Every process the module was loaded in, the latest last, and the settings it was given. */
const hosts: Pkcs11Calls[] = [];
let settings: HostSettings | undefined;
/** The module's calls, in the order they were answered (or made, for C_Finalize). */
const events: string[] = [];
/** Errors the next signatures fail with, by CKR_ name. */
const failNext: string[] = [];
/** C_OpenSession answers held back until the test lets them through. */
let holdOpenSession = 0;
const heldOpenSessions: (() => void)[] = [];
/** Sessions opened and closed, by handle, in order. */
const opened: string[] = [];
const closed: string[] = [];
const handleName = (session: Uint8Array) => Buffer.from(session).toString('hex');

/** The module in its process, its answers altered as the tests ask. */
const sharedModule: LoadModule = async (path, given) => {
  settings = given;
  const host = await loadInHost(path, given);
  hosts.push(host);
  const overrides: Partial<Pkcs11Calls> = {
    C_Finalize: () => {
      events.push('C_Finalize');
      return host.C_Finalize();
    },
    C_OpenSession: async (...args) => {
      const session = await host.C_OpenSession(...args);
      opened.push(handleName(session));
      if (holdOpenSession > 0) {
        holdOpenSession--;
        await new Promise<void>((resolve) => heldOpenSessions.push(resolve));
      }
      events.push('C_OpenSession');
      return session;
    },
    C_CloseSession: (session) => {
      closed.push(handleName(session));
      return host.C_CloseSession(session);
    },
    sign: (...args) => {
      const fault = failNext.shift();
      if (fault) return Promise.reject(new Error(fault)); // pkcs11js: the CKR_ name
      return host.sign(...args);
    },
  };
  return overridden(host, overrides);
};

let first: Pkcs11Signer;
let second: Pkcs11Signer;

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'ledger-key', 'EC:prime256v1', '02');
  first = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
    loadModule: sharedModule,
    timeoutMs: 4_000,
  });
  second = await createPkcs11Signer(hsm.uri('tsa', 'ledger-key'), 'auto', {
    loadModule: sharedModule,
    timeoutMs: 9_000,
  });
});
afterAll(async () => {
  try {
    await first?.[Symbol.asyncDispose]();
    await second?.[Symbol.asyncDispose]();
  } finally {
    hsm.cleanup();
  }
});

/** Signs with `signer` and checks the signature against its own public key. */
async function signsWithOwnKey(signer: Pkcs11Signer): Promise<void> {
  const data = randomBytes(40);
  const signature = await signer.sign(data);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  expect(verify(digest, data, key, signature)).toBe(true);
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('two signers of one PKCS#11 module', () => {
  it('share one process, whose calls count as stuck after the longer of their deadlines', async () => {
    expect(hosts).toHaveLength(1);
    expect(settings?.stuckAfterMs).toBe(2 * 9_000);
    await Promise.all([signsWithOwnKey(first), signsWithOwnKey(second)]);
  });

  it('after one re-initializes the module (its token failed), each signs with its own key', async () => {
    failNext.push('CKR_DEVICE_REMOVED');
    await expect(first.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
    });
    const finalized = events.filter((event) => event === 'C_Finalize').length;
    await signsWithOwnKey(first); // re-initializes: the second's handles are gone
    // The second finds its key again, without a re-initialization of its own (that would make
    // the first's handles stale in turn, and its numbers another key's).
    await signsWithOwnKey(second);
    await signsWithOwnKey(first);
    expect(events.filter((event) => event === 'C_Finalize').length).toBe(finalized + 1);
  });

  it('after the process died, both reconnect at once: one new process, each with its own key', async () => {
    const crashed = hosts.at(-1)!;
    process.kill(crashed.pid, 'SIGKILL');
    while (!crashed.stopped) await turn();
    // Their next signatures start the module again, once for both.
    await Promise.all([signsWithOwnKey(first), signsWithOwnKey(second)]);
    expect(hosts).toHaveLength(2);
    await Promise.all([signsWithOwnKey(first), signsWithOwnKey(second), signsWithOwnKey(first)]);
  });

  it('a re-initialization waits for a session being opened; that session is not used after it', async () => {
    await Promise.all([signsWithOwnKey(first), signsWithOwnKey(first)]); // two sessions idle
    // Three at once: the third opens a session, answered only when the test says.
    holdOpenSession = 1;
    const opening = Promise.all([0, 1, 2].map(() => signsWithOwnKey(first)));
    while (heldOpenSessions.length === 0) await turn();
    // Meanwhile the second's token fails, and its next signature re-initializes the module.
    failNext.push('CKR_DEVICE_REMOVED');
    await expect(second.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
    });
    const restarting = signsWithOwnKey(second);
    for (let i = 0; i < 20; i++) await turn();
    expect(events.at(-1)).not.toBe('C_Finalize'); // waits for the session being opened
    heldOpenSessions.shift()?.();
    await Promise.all([opening, restarting]);
    const finalize = events.lastIndexOf('C_Finalize');
    expect(events.slice(0, finalize)).toContain('C_OpenSession');
    // The session opened before C_Finalize was not signed in: the first signs again, its key.
    await Promise.all([signsWithOwnKey(first), signsWithOwnKey(second)]);
  });

  it('a signer closed refuses to sign (it would start a module process nothing stops)', async () => {
    const third = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: sharedModule,
    });
    await third[Symbol.asyncDispose]();
    const loads = hosts.length;
    await expect(third.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
      message: 'pkcs11:token=tsa;object=tsa-key: the signer is closed',
    });
    expect(hosts).toHaveLength(loads);
    await signsWithOwnKey(first); // the others' module goes on
  });

  it('a signer closed while it reconnects keeps no session of the module the others go on using', async () => {
    const third = await createPkcs11Signer(hsm.uri('tsa', 'tsa-key'), 'auto', {
      loadModule: sharedModule,
    });
    failNext.push('CKR_DEVICE_REMOVED');
    await expect(third.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
    });
    // Its next signature reconnects; the session the reconnection opens is answered once the
    // signer is being closed.
    const [openedBefore, closedBefore] = [opened.length, closed.length];
    holdOpenSession = 1;
    const signing = third.sign(Buffer.from('x'));
    while (heldOpenSessions.length === 0) await turn();
    const disposing = third[Symbol.asyncDispose]();
    heldOpenSessions.shift()?.();
    await expect(signing).rejects.toMatchObject({
      code: 'TOKEN_UNAVAILABLE',
      message: 'pkcs11:token=tsa;object=tsa-key: the signer is closed',
    });
    await disposing;
    // The reconnection's session is closed, not pooled by a signer nobody will close. (Handle
    // numbers start again after C_Finalize: only closes since count.)
    const reconnections = opened.slice(openedBefore);
    expect(reconnections).toHaveLength(1);
    while (!closed.slice(closedBefore).includes(reconnections[0]!)) await turn();
    await signsWithOwnKey(first); // the others' module goes on
    await signsWithOwnKey(second);
  });
});
