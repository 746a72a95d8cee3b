import { describe, expect, it } from 'vitest';
import { dispatcherOptions } from '../../../src/cli/timestamp-cli/http-fetch.js';

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
    const none = dispatcherOptions(0, { HTTP_PROXY: '', https_proxy: '' });
    expect(none).not.toHaveProperty('httpProxy');
    expect(none).not.toHaveProperty('httpsProxy');
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
});
