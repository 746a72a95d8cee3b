/**
 * The authority and the token encoder off the happy path: signing failures, a signature that does
 * not verify, the clock's evidence and auto accuracy, named profiles, serial numbers at the edges.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { integer, oid, readElement, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import type { Signer } from '../../../src/crypto/signer.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import {
  DEFAULT_REMOTE_CALL_POLICY,
  RemoteSigner,
  type RemoteSignatureApi,
} from '../../../src/signers/kms/remote-signer.js';
import { TimestampAuthority } from '../../../src/tsp/authority.js';
import { TokenProfileError } from '../../../src/tsp/profile-error.js';
import { GO_MESSAGES, reject } from '../../../src/tsp/rejection.js';
import type { TimeSourceSnapshot } from '../../../src/tsp/time-source.js';
import { TokenEncoder, TokenSignatureError } from '../../../src/tsp/token-encoder.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { decodeResponse } from '../../helpers/decode.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { encodeRequest } from '../../helpers/requests.js';
import { defaultAuthority } from '../../helpers/authority.js';

const GEN_TIME = Date.UTC(2026, 5, 1, 12, 0, 0, 750);

/** A signer like `inner` whose sign() is replaced and that has no signNow (a remote signer). */
const withSign = (inner: Signer, sign: Signer['sign']): Signer =>
  Object.assign(Object.create(inner) as Signer, { sign, signNow: undefined });

/** A signer like `inner` whose signNow() is replaced (an in-process key: no promise per token). */
const withSignNow = (inner: Signer, signNow: NonNullable<Signer['signNow']>): Signer =>
  Object.assign(Object.create(inner) as Signer, {
    signNow,
    sign: () => Promise.reject(new Error('sign() called where signNow() was expected')),
  });

/** `inner`'s own signNow: the memory signer's P-256 key has one. */
const signNowOf = (inner: Signer): NonNullable<Signer['signNow']> => {
  const { signNow } = inner;
  if (!signNow) throw new Error(`${inner.id} has no signNow`);
  return signNow;
};

/** Wraps a signer to sign through its own signNow, keeping each signed input in `signed`. */
const signingNowInto =
  (signed: Uint8Array[]) =>
  (inner: Signer): Signer =>
    withSignNow(inner, (data) => {
      signed.push(data);
      return signNowOf(inner)(data);
    });

/** A copy of `signature` with its last octet flipped. */
const corrupted = (signature: Uint8Array): Buffer => {
  const copy = Buffer.from(signature);
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1;
  return copy;
};

async function authority(
  options: Parameters<typeof defaultAuthority>[2] & { signer?: (signer: Signer) => Signer } = {},
) {
  const { signer, chain } = await createMemorySigner('sha256');
  const { signer: wrap, ...rest } = options;
  return defaultAuthority(wrap ? wrap(signer) : signer, chain.map(parseCertificate), {
    verifySignatures: true,
    now: () => GEN_TIME,
    ...rest,
  });
}

describe('TimestampAuthority: no token it cannot stand behind', () => {
  it('refuses with systemFailure "signing failed" when the signer throws, keeping the cause', async () => {
    const failure = new Error('KMS unavailable');
    const tsa = await authority({ signer: (s) => withSign(s, () => Promise.reject(failure)) });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      message: GO_MESSAGES.generic,
      detail: 'signing failed',
    });
    expect(outcome.status === 'rejection' && outcome.cause).toBe(failure);
    expect(decodeResponse(outcome.der).failInfo).toEqual(['systemFailure']);
  });

  it("passes a signer's own temporary refusal on as it is (a full wait queue: 503 with its retry time)", async () => {
    const busy = reject.unavailable('remote signer busy: too many signatures waiting', 1_000);
    const tsa = await authority({ signer: (s) => withSign(s, () => Promise.reject(busy)) });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'remote signer busy: too many signatures waiting',
      temporary: true,
      retryInMs: 1_000,
    });
  });

  it('refuses a signature that failed as the signer refuses after it (503 for a temporary refusal), keeping the cause', async () => {
    // A signer whose failure leaves it refusing: an HSM that refused its PIN at the reconnection.
    let refusal: string | undefined;
    let temporary = true;
    const failure = new Error('CKR_PIN_INCORRECT');
    const failing = (s: Signer): Signer =>
      Object.assign(
        withSign(s, () => {
          refusal = 'the token refused the PIN; update the PIN file';
          return Promise.reject(failure);
        }),
        { unavailableReason: () => refusal, unavailableIsTemporary: () => temporary },
      );
    const tsa = await authority({ signer: failing });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    // The answer the next request gets from the signer's guard up front: clients are told to retry.
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'the token refused the PIN; update the PIN file',
      temporary: true,
    });
    expect(outcome.status === 'rejection' && outcome.cause).toBe(failure);

    // One only a restart mends (a locked PIN): the signer's fault, not temporary.
    refusal = undefined;
    temporary = false;
    const locked = await tsa.issue(encodeRequest(), 'der');
    expect(locked).toMatchObject({
      failInfo: 'systemFailure',
      detail: 'the token refused the PIN; update the PIN file',
    });
    expect(locked.status === 'rejection' && locked.temporary).toBeUndefined();
    expect(locked.status === 'rejection' && locked.cause).toBe(failure);
  });

  it("answers a failed signature 'signing failed' (500) while only another guard refuses (a full ledger queue)", async () => {
    let ledgerBusy = false;
    const failure = new Error('KMS answered 400');
    const tsa = await authority({
      signer: (s) =>
        Object.assign(
          withSign(s, () => {
            ledgerBusy = true;
            return Promise.reject(failure);
          }),
          { unavailableReason: () => undefined },
        ),
      guards: [() => (ledgerBusy ? reject.unavailable('the ledger is busy', 1_000) : undefined)],
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({ failInfo: 'systemFailure', detail: 'signing failed' });
    expect(outcome.status === 'rejection' && outcome.temporary).toBeUndefined();
    expect(outcome.status === 'rejection' && outcome.cause).toBe(failure);
  });

  it('keeps a signature that did not verify a fault (500) though the signer refuses after it', async () => {
    let refusal: string | undefined;
    const tsa = await authority({
      signer: (s) =>
        Object.assign(
          withSign(s, async (data) => {
            refusal = 'circuit breaker open';
            return corrupted(await s.sign(data));
          }),
          { unavailableReason: () => refusal },
        ),
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({ detail: 'token signature did not verify' });
    expect(outcome.status === 'rejection' && outcome.temporary).toBeUndefined();
  });

  it('withholds a token whose signature does not verify with the public key', async () => {
    const tsa = await authority({
      signer: (s) => withSign(s, async (data) => corrupted(await s.sign(data))),
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'token signature did not verify',
    });
    expect(outcome.status === 'rejection' && outcome.cause).toBeInstanceOf(TokenSignatureError);
  });

  it('with the check off, a signer without signNow signs once and its answer is not checked', async () => {
    const calls: unknown[][] = [];
    const tsa = await authority({
      verifySignatures: false,
      signer: (s) =>
        withSign(s, async (...args) => {
          calls.push(args);
          return corrupted(await s.sign(args[0]));
        }),
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    // Granted with the signature as the signer gave it: nothing checked it, nor asked it to.
    expect(outcome.status).toBe('granted');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[2]).toBeUndefined();
  });

  it('a signer that takes the check runs it inside its call, and its answer is not checked again', async () => {
    let accepted = 0;
    const tsa = await authority({
      signer: (s) =>
        withSign(s, async (data, _signal, accept) => {
          const signature = await s.sign(data);
          await accept?.(signature);
          accepted++;
          // What it hands back after its check passed is taken as checked.
          return corrupted(signature);
        }),
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome.status).toBe('granted');
    expect(accepted).toBe(1);
  });

  it('a remote signer whose signatures do not verify opens its breaker: refused up front', async () => {
    const { signer: memory, chain } = await createMemorySigner('sha256');
    // A KMS that answers with another key's signatures (a key rotated under the certificate).
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    let signCalls = 0;
    const api: RemoteSignatureApi = {
      id: 'test:rotated',
      describeKey: () => Promise.resolve({ publicKey: memory.publicKey, hash: 'sha256' }),
      signDigest: (digest) => {
        signCalls++;
        return Promise.resolve(sign(null, digest, other));
      },
      isThrottling: () => false,
    };
    const remote = await RemoteSigner.create(api, 'sha256', {
      ...DEFAULT_REMOTE_CALL_POLICY,
      breaker: { threshold: 2, cooldownMs: 60_000 },
    });
    const tsa = defaultAuthority(remote, chain.map(parseCertificate), { verifySignatures: true });
    for (let i = 0; i < 2; i++) {
      const outcome = await tsa.issue(encodeRequest(), 'der');
      expect(outcome).toMatchObject({ detail: 'token signature did not verify' });
    }
    // The checks refused two answers in a row: the service counts as failing, as /readyz says.
    expect(remote.unavailableReason()).toMatch(/circuit breaker open after 2 consecutive failures/);
    const refused = await tsa.issue(encodeRequest(), 'der');
    expect(refused).toMatchObject({ status: 'rejection', failInfo: 'systemFailure' });
    expect(signCalls).toBe(2);
  });

  it('signs through signNow where the signer has it, with the same refusals', async () => {
    const signed: Uint8Array[] = [];
    const fine = await authority({ signer: signingNowInto(signed) });
    expect(fine.encoder.encodesNow).toBe(true);
    expect((await fine.issue(encodeRequest(), 'der')).status).toBe('granted');
    expect(signed).toHaveLength(1);

    const failure = new Error('key handle closed');
    const throwing = await authority({
      signer: (s) =>
        withSignNow(s, () => {
          throw failure;
        }),
    });
    const refused = await throwing.issue(encodeRequest(), 'der');
    expect(refused).toMatchObject({ status: 'rejection', detail: 'signing failed' });
    expect(refused.status === 'rejection' && refused.cause).toBe(failure);

    const corrupting = await authority({
      signer: (s) => withSignNow(s, (data) => corrupted(signNowOf(s)(data))),
    });
    const withheld = await corrupting.issue(encodeRequest(), 'der');
    expect(withheld).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'token signature did not verify',
    });
  });

  it('answers at once through signNow (no promise per step), not through sign()', async () => {
    /** Whether issue()'s promise has settled after one microtask turn. */
    const settledAtOnce = async (tsa: TimestampAuthority) => {
      let settled = false;
      const outcome = tsa.issue(encodeRequest(), 'der').then((answer) => {
        settled = true;
        return answer;
      });
      await Promise.resolve();
      const atOnce = settled;
      expect((await outcome).status).toBe('granted');
      return atOnce;
    };
    expect(await settledAtOnce(await authority())).toBe(true);
    expect(await settledAtOnce(await authority({ signer: (s) => withSign(s, s.sign) }))).toBe(
      false,
    );
  });

  it('with a record step, signs through signNow all the same and records before answering', async () => {
    const signed: Uint8Array[] = [];
    const tsa = await authority({ signer: signingNowInto(signed) });
    const recorded: string[] = [];
    const outcome = await tsa.issue(encodeRequest(), 'der', {
      record: async (granted) => {
        recorded.push(granted.serialNumber);
      },
    });
    if (outcome.status !== 'granted') throw new Error('refused');
    expect(recorded).toEqual([outcome.serialNumber]);
    expect(signed).toHaveLength(1);

    const failing = await authority({
      signer: (s) =>
        withSignNow(s, () => {
          throw new Error('key handle closed');
        }),
    });
    const refused = await failing.issue(encodeRequest(), 'der', {
      record: async (granted) => {
        recorded.push(granted.serialNumber);
      },
    });
    expect(refused).toMatchObject({ status: 'rejection', detail: 'signing failed' });
    expect(recorded).toHaveLength(1);
  });

  it('answers a fault that is not the request’s (a detached body) with systemFailure', async () => {
    const body = new Uint8Array(encodeRequest());
    structuredClone(body, { transfer: [body.buffer] });
    const outcome = await (await authority()).issue(body, 'der');
    expect(outcome).toMatchObject({ status: 'rejection', failInfo: 'systemFailure' });
    expect(outcome.status === 'rejection' && outcome.cause).toBeInstanceOf(TypeError);
  });

  it('turns an error a guard throws into systemFailure, keeping the cause', async () => {
    const failure = new Error('guard broke');
    const tsa = await authority({
      guards: [
        () => {
          throw failure;
        },
      ],
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    expect(outcome).toMatchObject({ status: 'rejection', failInfo: 'systemFailure' });
    expect(outcome.status === 'rejection' && outcome).toMatchObject({ cause: failure });
    expect(outcome.status === 'rejection' && outcome.detail).toBeUndefined();
  });
});

describe('TimestampAuthority: what a token records', () => {
  it('puts the profile name on grants and refusals, the request on policy refusals', async () => {
    const tsa = await authority({ name: 'qualified' });
    expect(await tsa.issue(encodeRequest(), 'der')).toMatchObject({
      status: 'granted',
      profile: 'qualified',
    });
    const refused = await tsa.issue(encodeRequest({ policy: '1.2.3.9' }), 'der');
    expect(refused).toMatchObject({
      status: 'rejection',
      failInfo: 'unacceptedPolicy',
      profile: 'qualified',
    });
    expect(await tsa.issue(Buffer.from('x'), 'der')).toMatchObject({ profile: 'qualified' });
  });

  it('records the clock evidence and declares its auto accuracy; genTime to the millisecond when measured, to the second with the fixed 1 s', async () => {
    let snapshot: TimeSourceSnapshot | undefined = {
      source: 'chrony',
      state: 'synced',
      accuracyMs: 1500,
    };
    const tsa = await authority({ timeSource: () => snapshot });
    const first = await tsa.issue(encodeRequest(), 'der');
    if (first.status !== 'granted') throw new Error(`refused: ${first.failInfo}`);
    expect(first.timeSource).toBe(snapshot);
    // A measured 1.5 s: cut to the second, genTime would add up to 999 ms to the clock's error.
    expect(first.genTime.getTime()).toBe(GEN_TIME);
    expect(Buffer.from(first.der).includes('20260601120000.75Z')).toBe(true);
    expect(toHex(first.policy ?? new Uint8Array())).toBe(toHex(oid(OID.sigstoreTsaPolicy)));
    const accuracy = decodeResponse(first.der).tstInfo!.accuracy!;
    expect([accuracy.seconds, accuracy.millis]).toEqual([1, 500]);
    // A new figure gives a new encoding; the same figure again the same one.
    snapshot = { source: 'sntp', state: 'synced', accuracyMs: 20 };
    for (let i = 0; i < 2; i++) {
      const next = await tsa.issue(encodeRequest(), 'der');
      if (next.status !== 'granted') throw new Error(`refused: ${next.failInfo}`);
      const declared = decodeResponse(next.der).tstInfo!.accuracy!;
      expect([declared.seconds, declared.millis]).toEqual([undefined, 20]);
      expect(next.genTime.getTime()).toBe(GEN_TIME);
      expect(Buffer.from(next.der).includes('20260601120000.75Z')).toBe(true);
    }
    // No evidence: the profile's fixed accuracy, and no timeSource on the outcome.
    snapshot = undefined;
    const plain = await tsa.issue(encodeRequest(), 'der');
    if (plain.status !== 'granted') throw new Error(`refused: ${plain.failInfo}`);
    expect(plain).not.toHaveProperty('timeSource');
    expect(decodeResponse(plain.der).tstInfo!.accuracy!.seconds).toBe(1);
    // The fixed 1 s: whole seconds, as the Go server writes them, but rounded to the nearest
    // (12:00:00.750 -> 12:00:01) where Go truncates (12:00:00, 750 ms off).
    expect(plain.genTime.getTime()).toBe(GEN_TIME + 250);
    expect(Buffer.from(plain.der).includes('20260601120001Z')).toBe(true);
  });

  it('a fixed sub-second accuracy (--accuracy 250ms) gets a genTime in milliseconds; OpenSSL reads it', async () => {
    const { signer, chain } = await createMemorySigner('sha256');
    const tsa = new TimestampAuthority({
      profile: {
        signer,
        chain: chain.map(parseCertificate),
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 0,
        accuracyMs: 250,
        includeChain: false,
      },
      policy: {
        acceptedPolicies: new Set([toHex(oid(OID.sigstoreTsaPolicy))]),
        allowCustomExtensions: false,
      },
      now: () => GEN_TIME,
    });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    if (outcome.status !== 'granted') throw new Error(`refused: ${outcome.failInfo}`);
    expect(outcome.genTime.getTime()).toBe(GEN_TIME);
    const files = tempDir();
    try {
      const reply = files.write('reply.tsr', outcome.der);
      const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
      expect(text).toContain('Time stamp: Jun  1 12:00:00.75 2026 GMT');
      expect(text).toContain('Accuracy: unspecified seconds, 0xFA millis, unspecified micros');
    } finally {
      files.cleanup();
    }
  });

  it.each([
    ['an empty serial number as 0', [], 0n],
    ['leading zero octets dropped', [0, 0, 0x12, 0x34], 0x1234n],
    ['a top bit set behind zero octets with a sign octet', [0, 0x80, 1], 0x8001n],
  ])('encodes %s', async (_name, octets, value) => {
    const tsa = await authority({ serialNumber: () => Uint8Array.from(octets) });
    const outcome = await tsa.issue(encodeRequest(), 'der');
    const serial = decodeResponse(outcome.der).tstInfo!.serialNumber;
    expect(toHex(new Uint8Array(serial.valueBlock.valueHexView))).toBe(
      toHex(readElement(integer(value)).value),
    );
  });
});

describe('TokenEncoder', () => {
  it('needs a leaf certificate', async () => {
    const { signer } = await createMemorySigner('sha256');
    const build = () =>
      new TokenEncoder({
        signer,
        chain: [],
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 1,
        includeChain: false,
      });
    expect(build).toThrow(TokenProfileError);
    expect(build).toThrow('certificate chain must contain a leaf certificate');
  });

  it('checks P-384 signatures off the main thread, and refuses one that does not verify', async () => {
    const { chain } = await createMemorySigner('sha256');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const signer = new LocalKeySigner('p384', privateKey, 'sha384');
    const profile = {
      chain: chain.map(parseCertificate),
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: false,
      verifySignatures: true,
    };
    const policy = { acceptedPolicies: new Set<string>(), allowCustomExtensions: false };
    const good = new TimestampAuthority({ profile: { ...profile, signer }, policy });
    expect((await good.issue(encodeRequest({ hash: 'sha384' }), 'der')).status).toBe('granted');
    const other = new LocalKeySigner(
      'p384',
      generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
      'sha384',
    );
    const bad = new TimestampAuthority({
      profile: { ...profile, signer: withSign(signer, (data) => other.sign(data)) },
      policy,
    });
    expect(await bad.issue(encodeRequest(), 'der')).toMatchObject({
      status: 'rejection',
      detail: 'token signature did not verify',
    });
  });
});
