/**
 * LocalKeySigner: which keys sign on the event loop (signNow) and which go to libuv's thread pool,
 * and that both forms make signatures the public key verifies.
 */
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LocalKeySigner } from '../../../src/signers/local-key.js';

const DATA = Buffer.from('signed attributes');

const keys: Record<string, () => KeyObject> = {
  'P-256': () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  Ed25519: () => generateKeyPairSync('ed25519').privateKey,
  'P-384': () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  'RSA-2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};

const verifies = (signer: LocalKeySigner, signature: Uint8Array): boolean =>
  verify(
    signer.algorithm.keyType === 'ed25519' ? null : signer.algorithm.hash,
    DATA,
    signer.publicKey,
    signature,
  );

describe('LocalKeySigner', () => {
  it.each(['P-256', 'Ed25519'])('signs a %s key on the event loop too (signNow)', async (kind) => {
    const signer = new LocalKeySigner(kind, (keys[kind] as () => KeyObject)(), 'auto');
    expect(signer.signNow).toBeTypeOf('function');
    expect(verifies(signer, (signer.signNow as (data: Uint8Array) => Uint8Array)(DATA))).toBe(true);
    expect(verifies(signer, await signer.sign(DATA))).toBe(true);
  });

  it.each(['P-384', 'RSA-2048'])(
    'keeps a %s key, slow to sign, off the event loop (no signNow)',
    async (kind) => {
      const signer = new LocalKeySigner(kind, (keys[kind] as () => KeyObject)(), 'auto');
      expect(signer.signNow).toBeUndefined();
      expect(verifies(signer, await signer.sign(DATA))).toBe(true);
    },
  );
});
