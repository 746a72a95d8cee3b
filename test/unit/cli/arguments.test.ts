import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  MAX_TIMEOUT_MS,
  parseIntegerIn,
  parseOid,
  parseRequestTimeout,
} from '../../../src/cli/timestamp-cli/arguments.js';

describe('timestamp-cli --timeout', () => {
  it('is whole milliseconds that AbortSignal.timeout takes and honours', () => {
    expect(parseRequestTimeout('30s')).toBe(30_000);
    expect(parseRequestTimeout('0')).toBe(0);
    // Rounded up: AbortSignal.timeout refuses a fraction, and 1us is not "no timeout".
    expect(parseRequestTimeout('1us')).toBe(1);
    expect(parseRequestTimeout('1.5ms')).toBe(2);
    expect(parseRequestTimeout('596h31m23.647s')).toBe(MAX_TIMEOUT_MS);
    for (const ms of [1, parseRequestTimeout('1.5ms'), MAX_TIMEOUT_MS])
      expect(AbortSignal.timeout(ms).aborted).toBe(false);
  });

  it('refuses more than 2^31 - 1 ms, where a Node timer would fire at once or throw', () => {
    for (const value of ['596h31m23.648s', '99999999h'])
      expect(() => parseRequestTimeout(value)).toThrow(
        new InvalidArgumentError(
          `"${value}" is longer than 596h31m23.647s (2147483647 ms), the longest timeout (0 for none)`,
        ),
      );
  });
});

describe('parseIntegerIn (log-audit --jobs)', () => {
  const jobs = parseIntegerIn(1, 256);
  it('takes a whole number within the bounds, the bounds included', () => {
    expect(jobs('1')).toBe(1);
    expect(jobs('256')).toBe(256);
    expect(jobs('007')).toBe(7);
  });

  it.each(['0', '257', '-1', '1.0', '1e2', '0x10', ' 2', '2 ', '', '9999999999999999'])(
    'refuses "%s", naming the bounds',
    (value) => {
      expect(() => jobs(value)).toThrow(InvalidArgumentError);
      expect(() => jobs(value)).toThrow(`"${value}" is not a whole number from 1 to 256`);
    },
  );
});

describe('timestamp-cli --tsa-policy', () => {
  it('takes the OIDs DER can encode', () => {
    for (const oid of ['1.3.6.1.4.1.57264.2', '2.999', '0.39', '1.2.840.113549'])
      expect(parseOid(oid)).toBe(oid);
  });

  it.each(['1.40', '0.40', '1', '3.1', '1.2.', '1.02', '1.a.3'])(
    'refuses %s before any artifact is hashed',
    (oid) => {
      expect(() => parseOid(oid)).toThrow(new InvalidArgumentError(`"${oid}" is not a valid OID`));
    },
  );
});
