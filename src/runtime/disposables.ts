import { RuntimeError } from './runtime-error.js';

/**
 * What one process holds (signer, clock monitor, audit log, listeners), torn down last built,
 * first closed. Node 20 has `Symbol.asyncDispose` but not `AsyncDisposableStack`; this is the part
 * of it the runtime needs. Every teardown runs even when one fails; the first failure is thrown.
 * Disposing again (a second signal during a drain) returns the first disposal's promise, so no
 * caller takes a teardown still running for a finished one.
 */
export class DisposableStack implements AsyncDisposable {
  private readonly teardowns: (() => unknown)[] = [];
  private disposal: Promise<void> | undefined;

  /** Holds `resource` (nothing when undefined) and returns it. */
  use<T extends AsyncDisposable | undefined>(resource: T): T {
    if (resource) this.defer(() => resource[Symbol.asyncDispose]());
    return resource;
  }

  /** Runs `teardown` when the stack is disposed, before everything added earlier. */
  defer(teardown: () => unknown): void {
    if (this.disposal) throw new RuntimeError('STACK_DISPOSED', 'the stack is already disposed');
    this.teardowns.push(teardown);
  }

  [Symbol.asyncDispose](): Promise<void> {
    // Set before the first teardown runs, so a defer() from then on is refused.
    this.disposal ??= Promise.resolve(this.teardowns.splice(0).reverse()).then(tearDown);
    return this.disposal;
  }
}

async function tearDown(teardowns: readonly (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const teardown of teardowns) {
    try {
      await teardown();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

/**
 * Builds with a fresh stack; if `build` throws, what it had built is torn down (in reverse) before
 * the error goes on. On success the caller owns the stack.
 */
export async function buildOrTearDown<T>(
  build: (stack: DisposableStack) => Promise<T>,
): Promise<T> {
  const stack = new DisposableStack();
  try {
    return await build(stack);
  } catch (error) {
    await stack[Symbol.asyncDispose]().catch(() => undefined);
    throw error;
  }
}
