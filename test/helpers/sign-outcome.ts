import { randomBytes, verify } from 'node:crypto';
import { expect } from 'vitest';
import { nodeSignatureArguments } from '../../src/crypto/key-algorithms.js';
import type { Signer } from '../../src/crypto/signer.js';

/** A signer's refusal: its error's code and message. */
export type SignRefusal = { code: string; message: string };

/**
 * The code a signature by `signer` fails with, `checkRefusal` told of the error first, or 'signed'
 * once the signature verifies with the signer's public key.
 */
export async function signOutcome(
  signer: Signer,
  checkRefusal: (refusal: SignRefusal) => void = () => undefined,
): Promise<string> {
  const data = randomBytes(20);
  try {
    const signature = await signer.sign(data);
    const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
    expect(verify(digest, data, key, signature)).toBe(true);
    return 'signed';
  } catch (error) {
    checkRefusal(error as SignRefusal);
    return (error as SignRefusal).code;
  }
}

/** One turn of the event loop. */
export const turn = () => new Promise((resolve) => setImmediate(resolve));
