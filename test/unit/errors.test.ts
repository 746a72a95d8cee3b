import { describe, expect, it } from 'vitest';
import { errorCodeOf } from '../../src/errors.js';

describe('errorCodeOf: what may be said of an error whose message could quote a secret', () => {
  it("takes a code that is a constant's name", () => {
    expect(errorCodeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    );
    expect(errorCodeOf({ code: 'ERR_INVALID_URL' })).toBe('ERR_INVALID_URL');
  });

  it('says nothing of any other code, or of none', () => {
    for (const error of [
      { code: 'http://user:password@host' },
      { code: 'ECONN REFUSED' },
      { code: 'econnrefused' },
      { code: 14 },
      new Error('no code'),
      null,
      undefined,
      'a string',
    ])
      expect(errorCodeOf(error)).toBeUndefined();
  });
});
