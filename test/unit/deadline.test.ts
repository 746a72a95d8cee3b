import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  allOrAbort,
  settledWithin,
  sleep,
  untilAborted,
  withDeadline,
} from '../../src/deadline.js';

class Late extends Error {}
const late = (options?: ErrorOptions) => new Late('too late', options);

/** A call that never settles unless its signal aborts, and then rejects as an SDK does. */
const hanging = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(new Error('sdk: request aborted'))),
  );

/** A call that ignores its signal and never settles. */
const deaf = () => new Promise<never>(() => {});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Marks a promise as observed so a rejection before the assertion is not unhandled. */
function settled<T>(promise: Promise<T>) {
  const result = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  return { promise, result };
}

describe('withDeadline', () => {
  it('resolves with the call and leaves no timer behind', async () => {
    const value = await withDeadline(1000, undefined, () => Promise.resolve(42), late);
    expect(value).toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the timeout error exactly at the deadline, even if the call ignores its signal', async () => {
    let signal: AbortSignal | undefined;
    const { result } = settled(
      withDeadline(
        1000,
        undefined,
        (s) => {
          signal = s;
          return deaf();
        },
        late,
      ),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const { error } = (await result) as { error: unknown };
    expect(error).toBeInstanceOf(Late);
    expect((error as Error).cause).toBeUndefined();
    expect(signal?.reason).toBe(error);
  });

  it('fails with the timeout error, not the abort error of an SDK that honours its signal', async () => {
    const { result } = settled(withDeadline(1000, undefined, hanging, late));
    await vi.advanceTimersByTimeAsync(1000);
    const { error } = (await result) as { error: Error };
    expect(error).toBeInstanceOf(Late);
    expect(error.message).toBe('too late');
  });

  it("passes a call's error before the deadline through unchanged", async () => {
    const refused = new Error('AccessDenied');
    await expect(withDeadline(1000, undefined, () => Promise.reject(refused), late)).rejects.toBe(
      refused,
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the outer signal's reason when the caller gives up first", async () => {
    const outer = new AbortController();
    let inner: AbortSignal | undefined;
    const { result } = settled(
      withDeadline(
        1000,
        outer.signal,
        (signal) => {
          inner = signal;
          return deaf();
        },
        late,
      ),
    );
    await vi.advanceTimersByTimeAsync(10);
    const gone = new Error('client went away');
    outer.abort(gone);
    expect((await result) as unknown).toEqual({ error: gone });
    expect(inner?.reason).toBe(gone);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not call at all when the outer signal has already aborted', async () => {
    const outer = new AbortController();
    outer.abort(new Error('gone'));
    const call = vi.fn(() => Promise.resolve(1));
    await expect(withDeadline(1000, outer.signal, call, late)).rejects.toThrow('gone');
    expect(call).not.toHaveBeenCalled();
  });
});

describe('untilAborted', () => {
  it('rejects with the reason as soon as the signal aborts, and swallows a late rejection', async () => {
    const controller = new AbortController();
    let rejectLate!: (error: Error) => void;
    const call = new Promise<number>((_, reject) => (rejectLate = reject));
    const { result } = settled(untilAborted(call, controller.signal));
    const reason = new Error('deadline');
    controller.abort(reason);
    expect(await result).toEqual({ error: reason });
    // Would fail the run as an unhandled rejection if untilAborted did not observe it.
    rejectLate(new Error('late'));
    await vi.advanceTimersByTimeAsync(0);
  });

  it('settles with the promise while the signal has not aborted', async () => {
    await expect(untilAborted(Promise.resolve('ok'), new AbortController().signal)).resolves.toBe(
      'ok',
    );
  });

  it('rejects at once when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('before'));
    await expect(untilAborted(Promise.resolve('ok'), controller.signal)).rejects.toThrow('before');
  });
});

describe('sleep', () => {
  it('resolves after the given time', async () => {
    let done = false;
    void sleep(500, new AbortController().signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it('rejects when its signal aborts', async () => {
    const controller = new AbortController();
    const { result } = settled(sleep(500, controller.signal));
    await vi.advanceTimersByTimeAsync(100);
    controller.abort(new Error('stop'));
    expect(((await result) as { error: Error }).error.message).toBe('stop');
  });
});

describe('settledWithin', () => {
  it('is true at once when there is nothing to wait for', async () => {
    expect(await settledWithin([], 1_000)).toBe(true);
  });

  it('is true once every promise settled in time, rejected ones included, and leaves no timer', async () => {
    const result = settledWithin([Promise.resolve(1), Promise.reject(new Error('x'))], 1_000);
    expect(await result).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is false at the limit while one promise is still pending', async () => {
    let settled: boolean | undefined;
    const result = settledWithin([Promise.resolve(1), deaf()], 1_000).then((value) => {
      settled = value;
      return value;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toBe(false);
  });
});

describe('allOrAbort', () => {
  it('resolves with every value in order, the signal never aborted', async () => {
    const signals: AbortSignal[] = [];
    const values = allOrAbort(
      [30, 10, 20].map((value) => (signal: AbortSignal) => {
        signals.push(signal);
        return sleep(value, signal).then(() => value);
      }),
    );
    await vi.advanceTimersByTimeAsync(30);
    expect(await values).toEqual([30, 10, 20]);
    expect(signals.some((signal) => signal.aborted)).toBe(false);
  });

  it('aborts the others at the first failure, and rejects with it once they have settled', async () => {
    const failure = new Error('404');
    let rejectFirst!: (error: Error) => void;
    let hungSignal: AbortSignal | undefined;
    const { result } = settled(
      allOrAbort<number>([
        (signal) => {
          hungSignal = signal;
          return hanging(signal);
        },
        () => new Promise<number>((_, reject) => (rejectFirst = reject)),
        // Never settles by itself: only the abort ends it.
        (signal) => hanging(signal),
      ]),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(hungSignal?.aborted).toBe(false);
    rejectFirst(failure);
    // The others' own rejections (their aborts) are not what it rejects with, nor unhandled.
    expect(await result).toEqual({ error: failure });
    expect(hungSignal?.aborted).toBe(true);
  });

  it('waits for a task that settles late after the abort before rejecting', async () => {
    let settledLate = false;
    const { result } = settled(
      allOrAbort<number>([
        () => Promise.reject(new Error('first')),
        (signal) =>
          new Promise<number>((_, reject) =>
            signal.addEventListener('abort', () =>
              setTimeout(() => {
                settledLate = true;
                reject(new Error('aborted'));
              }, 100),
            ),
          ),
      ]),
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(settledLate).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toEqual({ error: new Error('first') });
    expect(settledLate).toBe(true);
  });
});
