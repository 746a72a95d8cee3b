import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, PROBE_WAIT_MS } from '../../../../src/signers/kms/circuit-breaker.js';
import { classifyServiceError } from '../../../../src/signers/kms/failure-reason.js';

function breakerWithClock(threshold = 3, cooldownMs = 1_000) {
  const clock = { now: 1_000_000 };
  const breaker = new CircuitBreaker({ threshold, cooldownMs, now: () => clock.now });
  const fail = () => breaker.enter()?.failed();
  return { breaker, clock, fail };
}

describe('CircuitBreaker', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('times its cool-down on the monotonic clock: a wall-clock step back does not lengthen it', () => {
    let monotonic = 5_000;
    vi.spyOn(performance, 'now').mockImplementation(() => monotonic);
    const wall = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(wall);
    const breaker = new CircuitBreaker({ threshold: 1, cooldownMs: 100 });
    breaker.enter()?.failed();
    expect(breaker.refusedForMs).toBe(100);
    // chronyd steps the wall clock back an hour while the breaker is open.
    vi.spyOn(Date, 'now').mockReturnValue(wall - 3_600_000);
    monotonic += 100;
    expect(breaker.state).toBe('half-open');
    expect(breaker.refusedForMs).toBeUndefined();
    expect(breaker.refusal()).toBeUndefined();
  });

  it('opens after `threshold` consecutive failures, not before', () => {
    const { breaker, fail } = breakerWithClock(3);
    fail();
    fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.refusal()).toBeUndefined();
    fail();
    expect(breaker.state).toBe('open');
    expect(breaker.enter()).toBeUndefined();
    expect(breaker.refusal()).toBe(
      'remote signer unavailable: circuit breaker open after 3 consecutive failures',
    );
  });

  it('counts consecutive failures only: an answer in between resets the count', () => {
    const { breaker, fail } = breakerWithClock(3);
    fail();
    fail();
    breaker.enter()?.answered();
    fail();
    fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(2);
  });

  it('ignores abandoned calls', () => {
    const { breaker, fail } = breakerWithClock(2);
    fail();
    breaker.enter()?.abandoned();
    expect(breaker.consecutiveFailures).toBe(1);
    fail();
    expect(breaker.state).toBe('open');
  });

  it('refuses for the cool-down, then admits exactly one probe; its answer closes the circuit', () => {
    const { breaker, clock, fail } = breakerWithClock(1, 1_000);
    fail();
    expect(breaker.refusedForMs).toBe(1_000);
    clock.now += 999;
    expect(breaker.state).toBe('open');
    expect(breaker.refusedForMs).toBe(1);
    expect(breaker.enter()).toBeUndefined();
    clock.now += 1;
    expect(breaker.state).toBe('half-open');
    expect(breaker.refusal()).toBeUndefined();
    const probe = breaker.enter();
    expect(probe).toBeDefined();
    // While the probe is in flight, everyone else is refused, for about as long as it takes.
    expect(breaker.enter()).toBeUndefined();
    expect(breaker.refusal()).toMatch(/probe in flight/);
    expect(breaker.refusedForMs).toBe(PROBE_WAIT_MS);
    probe?.answered();
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.enter()).toBeDefined();
  });

  it('re-opens for a whole new cool-down when the probe fails', () => {
    const { breaker, clock, fail } = breakerWithClock(1, 1_000);
    fail();
    clock.now += 1_000;
    breaker.enter()?.failed();
    expect(breaker.state).toBe('open');
    expect(breaker.refusedForMs).toBe(1_000);
    clock.now += 500;
    expect(breaker.enter()).toBeUndefined();
  });

  it('admits another probe when the probe is abandoned', () => {
    const { breaker, clock, fail } = breakerWithClock(1, 1_000);
    fail();
    clock.now += 1_000;
    breaker.enter()?.abandoned();
    expect(breaker.state).toBe('half-open');
    expect(breaker.enter()).toBeDefined();
  });

  it('does not let calls admitted before the circuit opened close or extend it', () => {
    const { breaker, clock, fail } = breakerWithClock(2, 1_000);
    const early = breaker.enter();
    const late = breaker.enter();
    fail();
    fail();
    expect(breaker.state).toBe('open');
    early?.answered();
    expect(breaker.state).toBe('open');
    clock.now += 1_000;
    late?.failed();
    expect(breaker.state).toBe('half-open');
  });

  it('counts a verdict once', () => {
    const { breaker } = breakerWithClock(2);
    const call = breaker.enter();
    call?.failed();
    call?.failed();
    expect(breaker.state).toBe('closed');
  });

  it('never opens with threshold 0 (disabled)', () => {
    const { breaker, fail } = breakerWithClock(0);
    for (let i = 0; i < 10; i++) fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.enter()).toBeDefined();
  });
});

describe('classifyServiceError', () => {
  it.each([
    [
      'a reset socket',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'connection',
    ],
    [
      'fetch failed (undici)',
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
      }),
      'connection',
    ],
    ['gRPC UNAVAILABLE', Object.assign(new Error('14 UNAVAILABLE'), { code: 14 }), 'connection'],
    ['gRPC INTERNAL', Object.assign(new Error('13 INTERNAL'), { code: 13 }), 'server_error'],
    ['gRPC PERMISSION_DENIED', Object.assign(new Error('7'), { code: 7 }), 'client_error'],
    [
      'AWS 500',
      Object.assign(new Error('KMSInternalException'), { $metadata: { httpStatusCode: 500 } }),
      'server_error',
    ],
    [
      'AWS 400',
      Object.assign(new Error('ValidationException'), { $metadata: { httpStatusCode: 400 } }),
      'client_error',
    ],
    [
      'Azure 503',
      Object.assign(new Error('ServiceUnavailable'), { statusCode: 503 }),
      'server_error',
    ],
    ['Vault 403', Object.assign(new Error('permission denied'), { status: 403 }), 'client_error'],
    ['an unusable answer', new Error('Sign returned no signature'), 'other'],
    // A 200 the SDK could not read (a proxy's page): no signature, not a refusal.
    [
      'AWS 200 it could not read',
      Object.assign(new Error('Deserialization error'), { $metadata: { httpStatusCode: 200 } }),
      'other',
    ],
    [
      'Azure PARSE_ERROR on a 200',
      Object.assign(new Error('Error "Unexpected token"'), {
        code: 'PARSE_ERROR',
        statusCode: 200,
      }),
      'other',
    ],
  ] as const)('%s -> %s', (_name, error, reason) => {
    expect(classifyServiceError(error)).toBe(reason);
  });
});
