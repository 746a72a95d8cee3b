import { describe, expect, it } from 'vitest';
import { maxHeaderListPairs } from '../../../src/server/tls.js';

/** The fewest octets a field takes in HTTP/2's header list size: a one-octet name, no value, 32. */
const MIN_FIELD_SIZE = 33;

describe('the header fields an HTTP/2 request may have', () => {
  it.each([1000, 16_384, 1024 * 1024, 64 * 1024 * 1024])(
    'at --max-header-size %i: HTTP/1.1 fields and pseudo-headers, and more than fit within the size',
    (maxHeaderSize) => {
      const pairs = maxHeaderListPairs(maxHeaderSize);
      expect(pairs).toBeGreaterThanOrEqual(2000 + 4);
      // A list of one field more than fit reaches the 431 check, not Node's reset.
      expect(pairs).toBeGreaterThan(Math.floor(maxHeaderSize / MIN_FIELD_SIZE));
    },
  );
});
