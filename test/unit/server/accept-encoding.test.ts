import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../../src/server/accept-encoding.js';

describe('Accept-Encoding: gzip or identity', () => {
  it.each([
    'gzip',
    'GZIP',
    'x-gzip',
    'gzip, identity',
    'identity, gzip',
    'br, gzip;q=0.5, identity;q=0.1',
    'gzip;q=1',
    'gzip;q=1.000',
    'gzip;q=0.001',
    'gzip ; Q = 0.5',
    'deflate,gzip',
    '*',
    '*;q=0.1',
    'identity;q=0, *',
    'gzip;q=0, x-gzip',
    'gzip;q=bad, gzip',
  ])('accepts gzip for %j', (header) => expect(acceptsGzip(header)).toBe(true));

  it.each([
    undefined,
    '',
    ' ',
    'identity',
    'br, deflate',
    'gzip;q=0',
    'gzip;q=0.000',
    'x-gzip;q=0',
    'gzip;q=0, *',
    'gzip;q=0, *;q=0.5',
    '*;q=0',
    // A q that does not parse skips its member.
    'gzip;q=2',
    'gzip;q=0.0001',
    'gzip;q=',
    'gzip;q=abc',
    'gzipx',
    'gzip-like',
  ])('answers identity for %j', (header) => expect(acceptsGzip(header)).toBe(false));

  it('reads a header given more than once', () => {
    expect(acceptsGzip(['identity', 'gzip'])).toBe(true);
    expect(acceptsGzip(['gzip;q=0', '*'])).toBe(false);
  });
});
