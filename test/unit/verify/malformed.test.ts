import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  VerificationError,
  parseTimestampResponse,
  verifyTimestampResponse,
} from '../../../src/index.js';
import { issueToken, makePki, type Pki } from '../../helpers/pki.js';

const artifact = Buffer.from('fuzzed');

describe('malformed responses', () => {
  let pki: Pki;
  let token: Buffer;
  beforeAll(async () => {
    pki = await makePki();
    token = await issueToken(pki, { artifact, nonce: 7n });
  });

  /** Every outcome is a verified timestamp or a VerificationError: never a TypeError or a hang. */
  async function outcome(bytes: Buffer): Promise<'verified' | 'refused'> {
    try {
      await verifyTimestampResponse(bytes, artifact, {
        roots: [pki.root.der],
        intermediates: [pki.intermediate.der],
      });
      return 'verified';
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      return 'refused';
    }
  }

  it('byte mutations of a valid token are refused with a VerificationError (or verify, if outside the signed data)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (mutations) => {
          const mutated = Buffer.from(token);
          for (const [at, xor] of mutations) mutated[at] = (mutated[at] as number) ^ xor;
          await outcome(mutated);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every truncation is refused', async () => {
    for (let length = 0; length < token.length; length += 7) {
      expect(await outcome(token.subarray(0, length))).toBe('refused');
    }
  });

  it('arbitrary bytes are refused by the parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(() => parseTimestampResponse(bytes)).toThrow(VerificationError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile certificate sets', () => {
  it('a lattice of same-name, same-key intermediates cannot make path building explode', async () => {
    const { issue, makePki } = await import('../../helpers/pki.js');
    const { KeyUsage } = await import('../../../src/x509/certificate-builder.js');
    const pki = await makePki();
    // 12 copies (distinct serials) of the intermediate: without a budget 12^7 paths would be tried
    // through the self-issued copies; the search must stop and report.
    const copies = await Promise.all(
      Array.from({ length: 12 }, () =>
        issue(
          pki.intermediate.signer,
          {
            subject: pki.intermediate.subject,
            notBefore: new Date(Date.now() - 86_400_000),
            notAfter: new Date(Date.now() + 86_400_000),
            publicKey: pki.intermediate.signer.publicKey,
            basicConstraints: {},
            keyUsage: [KeyUsage.keyCertSign],
          },
          pki.intermediate,
        ),
      ),
    );
    const token = await issueToken(pki, { artifact });
    const other = await makePki();
    await expect(
      verifyTimestampResponse(token, artifact, { roots: [other.root.der], intermediates: copies }),
    ).rejects.toThrow(/gave up after 256 candidate certificate paths/);
    // With the real chain among them, a path is still found.
    await expect(
      verifyTimestampResponse(token, artifact, {
        roots: [pki.root.der],
        intermediates: [pki.intermediate.der, ...copies],
      }),
    ).resolves.toBeDefined();
  });
});
