/**
 * TurnBatch: the items added in one turn of the event loop are worked on together, in order,
 * after that turn's I/O callbacks (setImmediate); an item added while a batch runs waits for the
 * next one; one item's failure is its own.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TurnBatch } from '../../../src/server/turn-batch.js';

/**
 * A batch whose work records, per item, which batch it ran in, and adds the items that
 * `addsWhileRunning` names for it while the batch runs.
 */
function recordingBatch(addsWhileRunning: Record<number, number> = {}) {
  let batch = 0;
  const ran: [item: number, batch: number][] = [];
  const addedWhileRunning: Promise<number>[] = [];
  const turns: TurnBatch<number, number> = new TurnBatch(
    (item: number) => {
      ran.push([item, batch]);
      const next = addsWhileRunning[item];
      if (next !== undefined) addedWhileRunning.push(turns.add(next));
      return item * 10;
    },
    (callback) =>
      setImmediate(() => {
        batch++;
        callback();
      }),
  );
  return { turns, ran, addedWhileRunning };
}

describe('TurnBatch', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('works on the items of one turn together, in order, after the I/O callbacks', async () => {
    const { turns, ran } = recordingBatch();
    const results = [turns.add(1), turns.add(2), turns.add(3)];
    // Nothing is worked on while the turn that added them runs, nor in its microtasks.
    await Promise.resolve();
    expect(ran).toEqual([]);
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
    expect(ran).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });

  it('works on them after the callback that added them, and after its process.nextTick callbacks', async () => {
    const order: string[] = [];
    const turns = new TurnBatch((item: string) => order.push(item));
    // A due timer runs in the timers phase, which comes before the turn's check phase.
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        void turns.add('token');
        process.nextTick(() => order.push('same callback, next tick'));
        resolve();
      }, 0),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['same callback, next tick', 'token']);
  });

  it('puts an item added while a batch runs in the next batch', async () => {
    const { turns, ran, addedWhileRunning } = recordingBatch({ 1: 3 });
    expect(await Promise.all([turns.add(1), turns.add(2)])).toEqual([10, 20]);
    expect(await Promise.all(addedWhileRunning)).toEqual([30]);
    expect(ran).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('rejects only the item whose work throws or rejects', async () => {
    const turns = new TurnBatch((item: string) => {
      if (item === 'throws') throw new Error('thrown');
      if (item === 'rejects') return Promise.reject(new Error('rejected'));
      return Promise.resolve(item);
    });
    const results = await Promise.allSettled(
      ['first', 'throws', 'rejects', 'last'].map((item) => turns.add(item)),
    );
    expect(results).toEqual([
      { status: 'fulfilled', value: 'first' },
      { status: 'rejected', reason: new Error('thrown') },
      { status: 'rejected', reason: new Error('rejected') },
      { status: 'fulfilled', value: 'last' },
    ]);
  });

  it('answers while a test fakes the timers (it keeps the real setImmediate)', async () => {
    const turns = new TurnBatch((item: number) => item + 1);
    vi.useFakeTimers();
    expect(await turns.add(1)).toBe(2);
  });
});
