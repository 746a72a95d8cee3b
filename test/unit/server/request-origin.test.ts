import { describe, expect, it } from 'vitest';
import { addVary, isHostAndPort, originFormTarget } from '../../../src/server/request-origin.js';

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
