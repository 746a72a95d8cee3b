import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import {
  addVary,
  hostRefusal,
  isHostAndPort,
  originFormTarget,
} from '../../../src/server/request-origin.js';

describe('host[:port] of a Host header', () => {
  it.each([
    'tsa.example.com',
    'tsa.example.com.',
    'TSA.Example.COM:8443',
    'tsa_internal:3000',
    '127.0.0.1',
    '127.0.0.1:0',
    '[::1]',
    '[2001:db8::1]:65535',
    '[::ffff:192.0.2.1]:80',
  ])('accepts %s', (host) => expect(isHostAndPort(host)).toBe(true));

  it.each([
    '',
    'evil.example"><x',
    'a b',
    'tsa:65536',
    'tsa:123456',
    'tsa:',
    ':80',
    'user@tsa',
    'tsa/path',
    'tsa?x',
    'tsa#x',
    '[::1',
    '::1',
    '[fe80::1%25eth0]',
    'tsa\\x',
    'x'.repeat(254),
  ])('refuses %j', (host) => expect(isHostAndPort(host)).toBe(false));
});

describe('Vary', () => {
  it('adds to what is there, or starts it', () => {
    expect(addVary('Origin', 'Host')).toBe('Origin, Host');
    expect(addVary(undefined, 'Host')).toBe('Host');
    expect(addVary('', 'Host')).toBe('Host');
  });
});

describe('the path and query of a request-target', () => {
  it.each([
    ['/api/v1/log/tile/0/000.p/5', '/api/v1/log/tile/0/000.p/5'],
    ['http://tsa/api/v1/log/tile/0/000.p/5', '/api/v1/log/tile/0/000.p/5'],
    ['HTTPS://TSA.example:8443/api/v1/log/checkpoint?x=1', '/api/v1/log/checkpoint?x=1'],
    ['http://user@tsa/a', '/a'],
    ['http://tsa', '/'],
    ['http://tsa?x=1', '/?x=1'],
    // Read as sent: nothing decoded.
    ['http://tsa/api/v1/log/tile/0/%30%30%30', '/api/v1/log/tile/0/%30%30%30'],
    // Not absolute-form: CONNECT's authority form, '*', as they are.
    ['tsa.example:443', 'tsa.example:443'],
    ['*', '*'],
  ])('of %j is %j', (url, target) => expect(originFormTarget(url)).toBe(target));
});

describe("a request's Host headers, as Go's net/http reads them", () => {
  /** A parsed HTTP/1.x request with `rawHeaders`; Node keeps the first Host in `headers`. */
  const parsed = (rawHeaders: string[], minor = 1) => {
    const host = rawHeaders.findIndex((part, i) => i % 2 === 0 && part.toLowerCase() === 'host');
    return {
      httpVersionMajor: 1,
      httpVersionMinor: minor,
      rawHeaders,
      headers: host < 0 ? {} : { host: rawHeaders[host + 1] },
    } as unknown as IncomingMessage;
  };

  it.each([
    [['Host', 'tsa.example:8443']],
    [['Host', '[fe80::1%25eth0]:80']],
    [['Host', "a-b_c~!$&'()*+,;=.example"]],
    // Go's rule is the octets only: the host[:port] check is trusted-root's (isHostAndPort).
    [['Host', 'tsa:99999']],
    [['Host', '']],
    [['X-Host', 'a', 'Host', 'tsa', 'Hosts', 'b']],
  ])('takes %j', (rawHeaders) => expect(hostRefusal(parsed(rawHeaders))).toBeUndefined());

  it.each([
    [[], 'missing required Host header'],
    [['Host', 'tsa', 'host', 'tsa'], 'too many Host headers'],
    [['HOST', 'a', 'X', 'y', 'Host', ''], 'too many Host headers'],
    [['Host', 'a b'], 'malformed Host header'],
    [['Host', 'evil"><x'], 'malformed Host header'],
    [['Host', 'user@tsa'], 'malformed Host header'],
    [['Host', 'tsa/x'], 'malformed Host header'],
    [['Host', 'tsa\u00e9'], 'malformed Host header'],
  ])('refuses %j: %s', (rawHeaders, refusal) =>
    expect(hostRefusal(parsed(rawHeaders))).toBe(refusal),
  );

  it('lets HTTP/1.0 leave Host out, not repeat it', () => {
    expect(hostRefusal(parsed([], 0))).toBeUndefined();
    expect(hostRefusal(parsed(['Host', 'a', 'Host', 'b'], 0))).toBe('too many Host headers');
  });
});
