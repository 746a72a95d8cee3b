import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { configRefusal as refusal } from '../../helpers/config-layers.js';

const load = (flags: object) => loadServeConfig({ flags, env: {}, searchDirs: [] }).config;

describe('--http-request-id-header-name', () => {
  it('takes any header name that is not part of the framing', () => {
    for (const name of ['X-Request-Id', 'X-Correlation-ID', 'traceparent', "x!#$%&'*+.^_`|~9"])
      expect(load({ httpRequestIdHeaderName: name }).httpRequestIdHeaderName).toBe(name);
  });

  it.each(['', 'bad header', 'x-id:', 'x-id\r\nx-evil: 1', 'ünïcode'])(
    'refuses %j up front: Node would refuse it on every response (a 500, health probes too)',
    (name) => {
      const refused = refusal(() => load({ httpRequestIdHeaderName: name }));
      expect(refused.code).toBe('INVALID_VALUE');
      expect(refused.message).toBe(
        `--http-request-id-header-name ${JSON.stringify(name)} is not an HTTP header name (RFC 9110 token characters)`,
      );
    },
  );

  it.each(['Content-Length', 'transfer-encoding', 'Connection', 'host'])(
    'refuses %s: an ID there would break the answer',
    (name) => {
      expect(refusal(() => load({ httpRequestIdHeaderName: name })).message).toBe(
        `--http-request-id-header-name ${JSON.stringify(name)} names a header that frames the message or the connection`,
      );
    },
  );
});

describe('--trusted-proxies', () => {
  const succeeds = (run: () => unknown) => {
    try {
      run();
      return true;
    } catch {
      return false;
    }
  };
  /** Whether Fastify (proxy-addr) builds a server with this trustProxy entry. */
  const fastifyTakes = (entry: string) => succeeds(() => Fastify({ trustProxy: [entry] }));
  const accepted = (entry: string) => succeeds(() => load({ trustedProxies: [entry] }));

  it('accepts what proxy-addr accepts, up front where it threw once the app was built', () => {
    const entries = [
      '10.0.0.1',
      '10.0.0.0/8',
      '10.0.0.0/08',
      '10.0.0.0/32',
      '10.0.0.0/255.0.0.0',
      '1.2.3.4/255.255.255.255',
      '::1',
      '::/128',
      'fe80::/10',
      'fe80::1%eth0',
      '::ffff:10.0.0.1',
      '::ffff:10.0.0.0/104',
      'loopback',
      'linklocal',
      'uniquelocal',
      // Refused by both:
      'bogus',
      'LOOPBACK',
      '10.0.0.0/0',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/abc',
      '10.0.0.0/255.0.255.0',
      '1.2.3.4/0.0.0.0',
      '10.0.0.1/8/8',
      '::1/255.0.0.0',
    ];
    for (const entry of entries)
      expect([entry, accepted(entry)]).toEqual([entry, fastifyTakes(entry)]);
    expect(entries.filter(accepted)).toHaveLength(15);
  });

  it('refuses IPv4 that is not dotted decimal, which proxy-addr reads as another address', () => {
    // 010.0.0.1 is octal to proxy-addr (8.0.0.1), 127.1 is 127.0.0.1: not what an operator meant.
    for (const entry of ['127.1', '010.0.0.1', '0x7f.0.0.1']) {
      expect(fastifyTakes(entry)).toBe(true);
      const refused = refusal(() => load({ trustedProxies: ['10.0.0.1', entry] }));
      expect(refused.code).toBe('INVALID_VALUE');
      expect(refused.message).toBe(
        `--trusted-proxies ${JSON.stringify(entry)} is not an IP address, a CIDR range (10.0.0.0/8, 10.0.0.0/255.0.0.0) or one of loopback, linklocal, uniquelocal`,
      );
    }
  });
});
