import { describe, expect, it } from 'vitest';
import { addVary, isHostAndPort } from '../../../src/server/request-origin.js';

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
