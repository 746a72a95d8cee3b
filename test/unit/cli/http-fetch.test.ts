import { describe, expect, it } from 'vitest';
import { dispatcherOptions, proxyRefusal } from '../../../src/cli/timestamp-cli/http-fetch.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';

/**
 * The options of timestamp-cli's undici dispatcher (their effect is tested end to end in
 * test/e2e/cli/cli-http-client.test.ts): no undici deadline but the connection's, which is
 * --timeout's, and the proxy variables read as Go's httpproxy reads them.
 */
describe('the CLI’s dispatcher options', () => {
  it('turn off undici’s headers and body deadlines and give connecting --timeout', () => {
    for (const timeout of [0, 2_000, 600_000]) {
      const options = dispatcherOptions(timeout, {});
      expect(options).toMatchObject({
        headersTimeout: 0,
        bodyTimeout: 0,
        proxyTls: { timeout },
        requestTls: { timeout },
        proxyTunnel: false,
      });
      expect(typeof options.connect).toBe('function');
      expect(typeof options.factory).toBe('function');
      expect(typeof options.clientFactory).toBe('function');
    }
  });

  it('read the proxy variables upper-case first, an empty one as unset, as Go does', () => {
    expect(
      dispatcherOptions(0, {
        HTTP_PROXY: 'http://upper:1',
        http_proxy: 'http://lower:1',
        https_proxy: 'http://lower:2',
        NO_PROXY: '',
        no_proxy: 'example.com',
      }),
    ).toMatchObject({
      httpProxy: 'http://upper:1',
      httpsProxy: 'http://lower:2',
      noProxy: 'example.com,localhost,127.0.0.1,[::1]',
    });
    // '' is none for undici, which reads the variables itself where a property is missing.
    const none = dispatcherOptions(0, { HTTP_PROXY: '', https_proxy: '' });
    expect(none).toMatchObject({ httpProxy: '', httpsProxy: '' });
  });

  it('never proxy loopback, whatever NO_PROXY says', () => {
    expect(dispatcherOptions(0, {}).noProxy).toBe('localhost,127.0.0.1,[::1]');
    expect(dispatcherOptions(0, { NO_PROXY: 'a.example b.example:8080' }).noProxy).toBe(
      'a.example,b.example:8080,localhost,127.0.0.1,[::1]',
    );
  });

  it('keep NO_PROXY=* (any entry *, for Go) as the whole value, all undici understands', () => {
    expect(dispatcherOptions(0, { NO_PROXY: '*' }).noProxy).toBe('*');
    expect(dispatcherOptions(0, { no_proxy: 'example.com,*' }).noProxy).toBe('*');
  });

  it('read a proxy without a scheme as http://, and ignore one that does not parse, as Go does', () => {
    // undici refused every request, loopback ones too, for such a value ("Invalid URL protocol").
    expect(
      dispatcherOptions(0, { HTTPS_PROXY: 'proxy.corp:3128', http_proxy: 'proxy' }),
    ).toMatchObject({ httpsProxy: 'http://proxy.corp:3128/', httpProxy: 'http://proxy/' });
    const ignored = dispatcherOptions(0, { HTTP_PROXY: '::', HTTPS_PROXY: '[::1' });
    expect(ignored).toMatchObject({ httpProxy: '', httpsProxy: '' });
    expect(dispatcherOptions(0, { HTTPS_PROXY: 'https://user:pw@proxy:3128' })).toMatchObject({
      httpsProxy: 'https://user:pw@proxy:3128',
    });
  });

  it('refuse a proxy undici cannot speak to, naming the variable, for the requests it would carry', () => {
    const socks = { all_proxy: '', https_proxy: 'socks5://proxy:1080' };
    expect(proxyRefusal(new URL('https://tsa.example/api/v1/timestamp'), socks)).toEqual(
      new CliError(
        'USAGE',
        'https_proxy: a socks5 proxy is not supported: only http:// and https:// proxies',
      ),
    );
    // Not the dispatcher's: it goes direct only where no proxy is used, as in Go.
    expect(dispatcherOptions(0, socks)).toMatchObject({ httpsProxy: '', httpProxy: '' });
    for (const direct of ['https://localhost:3000/', 'https://127.0.0.1/', 'https://[::1]:8443/']) {
      expect(proxyRefusal(new URL(direct), socks)).toBeUndefined();
    }
    expect(proxyRefusal(new URL('http://tsa.example/'), socks)).toBeUndefined();
    expect(proxyRefusal(new URL('https://tsa.example/'), { ...socks, NO_PROXY: '*' })).toBe(
      undefined,
    );
  });
});
