/**
 * A signer's refusal as the client reads it (the TimeStampResp's statusString) and as /readyz
 * shows it: a signer whose reasons name what only operators may read (the pkcs11 signer's PIN
 * file, key and token labels) tells clients a fixed text, and readiness keeps its whole reason.
 */
import { describe, expect, it } from 'vitest';
import type { Signer } from '../../../src/crypto/signer.js';
import { readinessReason, signerAvailabilityGuard, signerGuard } from '../../../src/tsp/guards.js';
import { reject } from '../../../src/tsp/rejection.js';

const REASON =
  'pkcs11:token=tsa;object=tsa-key: the token refused the PIN (CKR_PIN_INCORRECT); update the PIN file /run/secrets/pin: this PIN is not offered again';
const CLIENT = 'signer unavailable: the HSM refused the PIN';

describe("a signer's refusal", () => {
  it('tells the client the fixed detail the signer gives, and readiness the whole reason', () => {
    let detail: string | undefined = CLIENT;
    const guard = signerAvailabilityGuard(
      () => REASON,
      () => true,
      () => 2_000,
      () => detail,
    );
    const refusal = guard()!;
    expect(refusal).toMatchObject({ detail: CLIENT, temporary: true, retryInMs: 2_000 });
    expect(readinessReason(refusal)).toBe(REASON);
    // No client detail given: the reason itself names nothing secret (a breaker's).
    detail = undefined;
    const plain = guard()!;
    expect(plain.detail).toBe(REASON);
    expect(readinessReason(plain)).toBe(REASON);
  });

  it("readiness shows another guard's refusal as it is: its detail, else its message", () => {
    expect(readinessReason(reject.unavailable('ledger database unavailable'))).toBe(
      'ledger database unavailable',
    );
    expect(readinessReason(reject.systemFailure())).toBe('Error generating timestamp response');
  });

  it("signerGuard asks the signer's unavailableDetail where it has one", () => {
    const signer = {
      unavailableReason: () => REASON,
      unavailableIsTemporary: () => false,
      unavailableDetail: () => CLIENT,
    } as unknown as Signer;
    const refusal = signerGuard(signer)!()!;
    expect(refusal).toMatchObject({ failInfo: 'systemFailure', detail: CLIENT, temporary: false });
    expect(readinessReason(refusal)).toBe(REASON);
    const without = { unavailableReason: () => REASON } as unknown as Signer;
    expect(signerGuard(without)!()!.detail).toBe(REASON);
  });
});
