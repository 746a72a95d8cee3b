import { describe, expect, it } from 'vitest';
import { cancelOnAbort } from '../../../../src/signers/kms/gcp.js';

/** A gax-like call that never answers by itself and rejects when cancelled, counting cancels. */
function pendingCall() {
  let cancels = 0;
  let rejectCall!: (error: Error) => void;
  const call = Object.assign(
    new Promise<string>((_, reject) => {
      rejectCall = reject;
    }),
    {
      cancel() {
        cancels++;
        rejectCall(Object.assign(new Error('Cancelled on client'), { code: 1 }));
      },
    },
  );
  return { call, cancels: () => cancels };
}

describe('cancelOnAbort (gax calls: Cloud KMS signer and the Tink gcp-kms:// KEK)', () => {
  it('cancels the call when the signal aborts', async () => {
    const { call, cancels } = pendingCall();
    const controller = new AbortController();
    const pending = cancelOnAbort(call, controller.signal);
    expect(cancels()).toBe(0);
    controller.abort(new Error('deadline'));
    await expect(pending).rejects.toThrow('Cancelled on client');
    expect(cancels()).toBe(1);
  });

  it('cancels the call at once when the signal has already aborted (no abort event comes)', async () => {
    const { call, cancels } = pendingCall();
    const pending = cancelOnAbort(call, AbortSignal.abort(new Error('deadline passed')));
    expect(cancels()).toBe(1);
    await expect(pending).rejects.toThrow('Cancelled on client');
  });

  it('leaves an answered call alone and forgets the signal', async () => {
    const controller = new AbortController();
    let cancels = 0;
    const call = Object.assign(Promise.resolve('answered'), { cancel: () => cancels++ });
    await expect(cancelOnAbort(call, controller.signal)).resolves.toBe('answered');
    controller.abort();
    expect(cancels).toBe(0);
  });
});
