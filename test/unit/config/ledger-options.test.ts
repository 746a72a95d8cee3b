import { describe, expect, it } from 'vitest';
import { readEnvironment } from '../../../src/config/environment.js';
import { resolveLayers, resolveServeConfig } from '../../../src/config/resolve.js';
import { redactUrl } from '../../../src/ledger/connection.js';
import { parseSerialHex } from '../../../src/ledger/entry.js';

const URL = 'postgres://tsa@db.example:5432/tsa';

describe('ledger options', () => {
  it('reads --ledger-url from TIMESTAMP_LEDGER_URL or LEDGER_URL', () => {
    for (const name of ['TIMESTAMP_LEDGER_URL', 'LEDGER_URL']) {
      expect(resolveLayers([readEnvironment({ [name]: URL })]).config.ledgerUrl).toBe(URL);
    }
  });

  it('needs --ledger-url for the other ledger options, and an origin with a key', () => {
    expect(() => resolveServeConfig({ ledgerKey: 'k.pem' })).toThrow(/needs --ledger-url/);
    expect(() => resolveServeConfig({ ledgerUrl: URL, ledgerKey: 'k.pem' })).toThrow(
      /--ledger-key needs --ledger-origin/,
    );
    expect(() => resolveServeConfig({ ledgerUrl: 'mysql://x' })).toThrow(/postgres/);
    // A key in an HSM is accepted like a file (test/integration/ledger/ledger-pkcs11-key.test.ts).
    expect(
      resolveServeConfig({ ledgerUrl: URL, ledgerKey: 'pkcs11:token=log', ledgerOrigin: 'o/log' })
        .ledgerKey,
    ).toBe('pkcs11:token=log');
  });

  it('refuses a password both in the URL and in --ledger-password-file, and a URL that does not parse, before anything starts', () => {
    for (const url of ['postgres://tsa:pw123@db/tsa', 'postgres://tsa@db/tsa?password=pw123']) {
      const refusal = (() => {
        try {
          resolveServeConfig({ ledgerUrl: url, ledgerPasswordFile: '/run/secrets/pw' });
        } catch (error) {
          return error;
        }
      })();
      expect(refusal).toMatchObject({
        code: 'CONFLICTING_OPTIONS',
        message:
          'set the ledger password either in --ledger-url or in --ledger-password-file, not both',
      });
    }
    expect(
      resolveServeConfig({ ledgerUrl: URL, ledgerPasswordFile: '/run/secrets/pw' }).ledgerUrl,
    ).toBe(URL);
    expect(() => resolveServeConfig({ ledgerUrl: 'postgres://u:pw123@[x/tsa' })).toThrow(
      /^--ledger-url is not a valid URL$/,
    );
  });

  it('never shows the URL in an error (it may hold a password)', () => {
    expect(() => resolveServeConfig({ ledgerUrl: ['postgres://u:pw123@x'] })).toThrow(/not shown/);
    expect(() => resolveServeConfig({ ledgerUrl: 'mysql://u:pw123@x' })).toThrow(
      /^(?!.*pw123).*postgres/,
    );
  });

  it('redacts the password of a URL for the log', () => {
    expect(redactUrl('postgres://tsa:s3cret@db:5432/tsa')).toBe('postgres://tsa:***@db:5432/tsa');
    expect(redactUrl(URL)).toBe(URL);
  });

  it('parses serial numbers as openssl prints them', () => {
    expect(parseSerialHex('0x0A0b')).toEqual(Buffer.from([0x0a, 0x0b]));
    expect(parseSerialHex('000a0b')).toEqual(Buffer.from([0x0a, 0x0b]));
    expect(parseSerialHex('abc')).toEqual(Buffer.from([0x0a, 0xbc]));
    expect(parseSerialHex(`00${'f'.repeat(40)}`)).toEqual(Buffer.alloc(20, 0xff));
    for (const bad of ['', '0x', 'xyz', '12 34', 'a'.repeat(41), '0'.repeat(65)]) {
      expect(parseSerialHex(bad)).toBeUndefined();
    }
  });
});
