import { expect } from 'vitest';
import { VerificationError } from '../../src/index.js';

/** The VerificationError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function verificationRefusal(promise: Promise<unknown>): Promise<VerificationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return error as VerificationError;
  }
  throw new Error('verification unexpectedly succeeded');
}
