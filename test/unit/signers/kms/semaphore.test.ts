import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../../src/signers/kms/semaphore.js';

const never = () => new AbortController().signal;
/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  it('grants as many slots as it has, then makes callers wait for a release, first come first served', async () => {
    const slots = new Semaphore(2);
    const first = await slots.acquire(never());
    await slots.acquire(never());
    const order: string[] = [];
    void slots.acquire(never()).then(() => order.push('third'));
    void slots.acquire(never()).then(() => order.push('fourth'));
    await flush();
    expect(order).toEqual([]);
    first();
    await flush();
    expect(order).toEqual(['third']);
  });

  it('counts its waiters: those that got a slot or gave up no longer count', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(never());
    expect(slots.waiting).toBe(0);
    const controller = new AbortController();
    const gaveUp = slots.acquire(controller.signal);
    const next = slots.acquire(never());
    expect(slots.waiting).toBe(2);
    controller.abort(new Error('deadline'));
    await expect(gaveUp).rejects.toThrow('deadline');
    expect(slots.waiting).toBe(1);
    release();
    await next;
    expect(slots.waiting).toBe(0);
  });

  it('releases a slot once however often its release is called', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(never());
    let granted = 0;
    void slots.acquire(never()).then(() => granted++);
    void slots.acquire(never()).then(() => granted++);
    release();
    release();
    await flush();
    expect(granted).toBe(1);
  });

  it('drops a waiter whose signal aborts: it rejects and takes no slot', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(never());
    const controller = new AbortController();
    const gaveUp = slots.acquire(controller.signal);
    let next = false;
    void slots.acquire(never()).then(() => (next = true));
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(gaveUp).rejects.toBe(reason);
    release();
    await flush();
    // The slot went to the waiter behind, not to the one that gave up.
    expect(next).toBe(true);
  });

  it('rejects at once when the signal has already aborted and no slot is free', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(never());
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(slots.acquire(controller.signal)).rejects.toThrow('gone');
    release();
    // The slot is free again: nobody is left waiting.
    await expect(slots.acquire(never())).resolves.toBeTypeOf('function');
  });

  it('passes on a slot granted to a waiter in the same turn its signal aborts', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(never());
    const controller = new AbortController();
    const gaveUp = slots.acquire(controller.signal);
    gaveUp.catch(() => {});
    // Granted (woken) and aborted before the waiter runs: the abort wins the race.
    release();
    controller.abort(new Error('deadline'));
    await expect(gaveUp).rejects.toThrow('deadline');
    // The slot it was granted is not lost.
    await expect(slots.acquire(never())).resolves.toBeTypeOf('function');
  });
});
