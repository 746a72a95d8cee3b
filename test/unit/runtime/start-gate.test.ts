import { describe, expect, it } from 'vitest';
import { startGate } from '../../../src/runtime/start-gate.js';

/** A promise and the hand that resolves it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((yes) => (resolve = yes));
  return { promise, resolve };
}

/** Where a promise stands after the callbacks that are due have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  const settled = promise.then(
    (value) => `resolved: ${String(value)}`,
    (error: unknown) => `rejected: ${(error as { code?: string }).code ?? String(error)}`,
  );
  return Promise.race([
    settled,
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

describe('the start gate', () => {
  it('a stop before the first listen abandons the start-up at once, and refuses the listen', async () => {
    const stop = new AbortController();
    const gate = startGate(stop.signal);
    const start = deferred<string>();
    const started = gate.untilListening(start.promise);
    expect(await outcome(started)).toBe('pending');
    stop.abort();
    expect(await outcome(started)).toBe('rejected: START_STOPPED');
    // The abandoned start-up, reaching its listen, stops there (and tears down what it built).
    expect(() => gate.listening()).toThrow('the start-up was stopped by a signal');
  });

  it('a stop once a listener may accept waits for the start-up to complete', async () => {
    const stop = new AbortController();
    const gate = startGate(stop.signal);
    const start = deferred<string>();
    const started = gate.untilListening(start.promise);
    gate.listening();
    stop.abort();
    expect(await outcome(started)).toBe('pending');
    start.resolve('serving');
    expect(await outcome(started)).toBe('resolved: serving');
  });

  it('a start-up already stopped is abandoned before it waits for anything', async () => {
    const stop = new AbortController();
    stop.abort();
    const gate = startGate(stop.signal);
    expect(await outcome(gate.untilListening(new Promise(() => undefined)))).toBe(
      'rejected: START_STOPPED',
    );
  });

  it('without a stop signal, passes the start-up through', async () => {
    const gate = startGate(undefined);
    gate.listening();
    expect(await outcome(gate.untilListening(Promise.resolve('serving')))).toBe(
      'resolved: serving',
    );
  });
});
