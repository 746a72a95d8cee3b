/**
 * Deadlines and aborts for async calls that may hang (a KMS, an HSM, a start-up step). It imports
 * nothing: any layer may use it.
 */

/** A signal that aborts at a deadline or with an outer signal, until cleared. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Whether it aborted because the deadline passed (not because `outer` aborted). */
  readonly timedOut: boolean;
  /** Stops the timer and forgets `outer` (call it once the work is done). */
  clear(): void;
}

/**
 * A signal that aborts after `timeoutMs` with `timeoutError()`, or when `outer` aborts, with its
 * reason. A plain timer that is cleared on completion: AbortSignal.timeout/any keep a timer (and
 * listeners) alive for the whole timeout after every call, which costs memory and time at high
 * request rates.
 */
export function deadline(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  timeoutError: (options?: ErrorOptions) => Error,
): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(timeoutError());
  }, timeoutMs);
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    },
  };
}

/**
 * Runs `call` with a signal that aborts after `timeoutMs` or when `outer` aborts; rejects then.
 * At the deadline the signal aborts with `timeoutError()`, and a call that fails otherwise once
 * the deadline passed (an SDK's own abort error) fails with `timeoutError({ cause })` instead.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
  timeoutError: (options?: ErrorOptions) => Error,
): Promise<T> {
  outer?.throwIfAborted();
  const limit = deadline(timeoutMs, outer, timeoutError);
  try {
    return await untilAborted(call(limit.signal), limit.signal);
  } catch (error) {
    if (limit.timedOut && error !== limit.signal.reason) throw timeoutError({ cause: error });
    throw error;
  } finally {
    limit.clear();
  }
}

/**
 * Settles with `promise`, or rejects as soon as `signal` aborts: an SDK that ignores the signal
 * (or a service that hangs) cannot hold the request past its deadline.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // A late rejection of an abandoned call must not become an unhandled rejection.
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** Resolves after `ms` (without holding the process open), or rejects when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return untilAborted(new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), signal);
}

/** Whether every promise settled within `ms` (at once when there are none). */
export async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false).unref()));
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the tasks together with one signal, aborted as soon as one of them fails: a batch of
 * requests ends at its first failure, where Promise.all would leave the others running (one never
 * answered, forever). Rejects with that first failure once every task has settled (the others'
 * rejections, their aborts, are dropped); resolves with every value, in order, otherwise. Each
 * task must honour the signal.
 */
export async function allOrAbort<T>(
  tasks: readonly ((signal: AbortSignal) => Promise<T>)[],
): Promise<T[]> {
  const controller = new AbortController();
  let failure: { error: unknown } | undefined;
  const running = tasks.map(async (task) => {
    try {
      return await task(controller.signal);
    } catch (error) {
      if (!failure) {
        failure = { error };
        controller.abort();
      }
      throw error;
    }
  });
  const results = await Promise.allSettled(running);
  if (failure) throw failure.error;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}
