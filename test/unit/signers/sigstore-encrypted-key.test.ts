import { beforeEach, describe, expect, it, vi } from 'vitest';

/** scrypt is replaced: a hostile file must be refused before any memory or CPU is spent on it. */
const scryptCalls = vi.hoisted(() => [] as { N: number; r: number; p: number }[]);
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return {
    ...original,
    scrypt: (
      _password: string,
      _salt: Buffer,
      length: number,
      options: { N: number; r: number; p: number },
      callback: (error: Error | null, key: Buffer) => void,
    ) => {
      scryptCalls.push({ N: options.N, r: options.r, p: options.p });
      callback(null, Buffer.alloc(length));
    },
  };
});

const { decryptSigstoreKey } = await import('../../../src/signers/file/sigstore-encrypted-key.js');

function envelope(params: { N: number; r: number; p: number }): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      kdf: { name: 'scrypt', params, salt: Buffer.alloc(32).toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: Buffer.alloc(24).toString('base64') },
      ciphertext: Buffer.alloc(48).toString('base64'),
    }),
  );
}

describe('sigstore encrypted key: scrypt parameters from the file are bounded', () => {
  beforeEach(() => {
    scryptCalls.length = 0;
  });

  it.each([
    // 128 * N * r = 4 GiB of memory, each parameter within its own bound.
    { N: 1 << 20, r: 32, p: 1 },
    // 1 GiB.
    { N: 1 << 20, r: 8, p: 1 },
    // 256 MiB of memory, and 128 times the CPU of cosign's N=65536 r=8 p=1.
    { N: 1 << 16, r: 32, p: 16 },
  ])('refuses N=$N r=$r p=$p before running scrypt', async (params) => {
    await expect(decryptSigstoreKey(envelope(params), 'pw')).rejects.toMatchObject({
      code: 'INVALID_KEY',
      message: expect.stringContaining('scrypt') as unknown,
    });
    expect(scryptCalls).toEqual([]);
  });

  it.each([
    // cosign / securesystemslib: legacy, standard and OWASP strengths.
    { N: 1 << 15, r: 8, p: 1 },
    { N: 1 << 16, r: 8, p: 1 },
    { N: 1 << 17, r: 8, p: 1 },
    { N: 1 << 18, r: 8, p: 1 },
  ])('runs scrypt for the parameters tools write, N=$N r=$r p=$p', async (params) => {
    // The all-zero key does not open the ciphertext: the password is "wrong", after scrypt ran.
    await expect(decryptSigstoreKey(envelope(params), 'pw')).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    expect(scryptCalls).toEqual([params]);
  });
});
