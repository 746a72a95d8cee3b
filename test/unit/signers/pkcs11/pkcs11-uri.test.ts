import { describe, expect, it } from 'vitest';
import {
  isPkcs11Uri,
  parsePkcs11Uri,
  pinSourcePath,
} from '../../../../src/signers/pkcs11/pkcs11-uri.js';
import { createPkcs11Signer } from '../../../../src/signers/pkcs11/pkcs11-signer.js';

const MODULE = 'module-path=/usr/lib/softhsm/libsofthsm2.so';

describe('PKCS#11 URI (RFC 7512)', () => {
  it('reads the cosign form: token, object, module-path and pin-source', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:token=tsa;object=tsa-key?${MODULE}&pin-source=file:/run/secrets/pin`,
    );
    expect(uri).toEqual({
      token: 'tsa',
      object: 'tsa-key',
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      pinSource: 'file:/run/secrets/pin',
      display: 'pkcs11:token=tsa;object=tsa-key',
    });
    expect(pinSourcePath(uri.pinSource ?? '', uri.display)).toBe('/run/secrets/pin');
  });

  it('percent-decodes values: labels with reserved characters and binary ids', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:token=My%20Token%3B%3F;object=k%C3%A9y;id=%01%A0%ff;serial=00%2F1?${MODULE}`,
    );
    expect(uri.token).toBe('My Token;?');
    expect(uri.object).toBe('kéy');
    expect(uri.id).toEqual(Buffer.from([0x01, 0xa0, 0xff]));
    expect(uri.serial).toBe('00/1');
  });

  it('reads characters outside the BMP written as they are, as their percent-encoded UTF-8 is read', () => {
    const raw = parsePkcs11Uri(`pkcs11:object=k\u{1F511};token=t\u00e9\u{1F511}x?${MODULE}`);
    expect(Buffer.from(raw.object ?? '', 'utf8').toString('hex')).toBe('6bf09f9491');
    expect(raw.object).toBe('k\u{1F511}');
    expect(raw.token).toBe('t\u00e9\u{1F511}x');
    expect(parsePkcs11Uri(`pkcs11:object=k%F0%9F%94%91?${MODULE}`).object).toBe('k\u{1F511}');
  });

  it('selects by id and slot-id, accepts pin-value, and ignores vendor x- attributes', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:slot-id=42;id=%02;x-vendor=1;type=private?${MODULE}&pin-value=1234`,
    );
    expect(uri.slotId).toBe(42n);
    // A CK_ULONG, exactly: 2^53 + 1 stays itself, 2^64 is no slot ID.
    expect(parsePkcs11Uri(`pkcs11:slot-id=9007199254740993;object=k?${MODULE}`).slotId).toBe(
      9007199254740993n,
    );
    expect(() => parsePkcs11Uri(`pkcs11:slot-id=18446744073709551616;object=k?${MODULE}`)).toThrow(
      'slot-id must be a decimal number below 2^64',
    );
    expect(uri.id).toEqual(Buffer.from([2]));
    expect(uri.pinValue).toBe('1234');
    expect(uri.display).not.toContain('1234');
  });

  it('reads the slot and library attributes: RFC 7512 selects by them too', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:object=k;slot-description=SoftHSM%20slot;slot-manufacturer=SoftHSM%20project;library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11;library-version=2.6?${MODULE}`,
    );
    expect(uri).toMatchObject({
      slotDescription: 'SoftHSM slot',
      slotManufacturer: 'SoftHSM project',
      libraryManufacturer: 'SoftHSM',
      libraryDescription: 'Implementation of PKCS11',
      libraryVersion: { major: 2, minor: 6 },
    });
    // "M" is "M.0".
    expect(parsePkcs11Uri(`pkcs11:object=k;library-version=3?${MODULE}`).libraryVersion).toEqual({
      major: 3,
      minor: 0,
    });
  });

  it.each([
    ['pkcs11:object=k', /module-path .* is required/],
    ['pkcs11:object=k?module-name=softhsm2', /module-name is not supported/],
    [`pkcs11:token=t?${MODULE}`, /name the key with object= .* or id=/],
    [`pkcs11:object=k;object=j?${MODULE}`, /"object" is given twice/],
    [`pkcs11:object=k;colour=red?${MODULE}`, /unknown attribute "colour"/],
    [`pkcs11:object=k%2?${MODULE}`, /bad percent-encoding in object/],
    [`pkcs11:object=k%zz?${MODULE}`, /bad percent-encoding in object/],
    [`pkcs11:object=k;type=cert?${MODULE}`, /type=cert/],
    [`pkcs11:object=k;slot-id=0x1?${MODULE}`, /slot-id must be a decimal number/],
    [`pkcs11:object=k;library-version=2.x?${MODULE}`, /library-version must be M or M.m/],
    [`pkcs11:object=k;library-version=.6?${MODULE}`, /library-version must be M or M.m/],
    [`pkcs11:object?${MODULE}`, /"object" has no value/],
    [`pkcs11:object=k;S3cret-PIN?${MODULE}`, /: an attribute has no value/],
    [`pkcs11:object=k?${MODULE}&pin-value=1&pin-source=/p`, /only one of pin-source and pin-value/],
    [`pkcs11:object=k?${MODULE}&unknown=1`, /unknown attribute "unknown"/],
  ])('refuses %s', (text, message) => {
    expect(() => parsePkcs11Uri(text)).toThrow(message);
    try {
      parsePkcs11Uri(text);
    } catch (error) {
      expect((error as { code: string }).code).toBe('URI_INVALID');
      // Errors name the URI without its query: never a PIN.
      expect((error as Error).message).not.toContain('pin-value=');
    }
  });

  it.each([
    // The PIN put in the path by mistake (`;` for `?`), or with no query at all.
    ['pkcs11:token=tsa;object=k;module-path=/x;pin-value=S3cret-PIN', 'module-path=…;pin-value=…'],
    ['pkcs11:token=tsa;object=k;pin-value=S3cret-PIN?module-path=/x', 'pin-value=…'],
    ['pkcs11:token=tsa;object=k;S3cret-PIN?module-path=/x', 'object=k;…'],
    ['S3cret-PIN', '(not a pkcs11: URI)'],
    // `&` where `?` belongs: the path's last value runs on into the query; shown up to its `&`.
    [
      'pkcs11:token=tsa;object=tsa-key&module-path=/x&pin-value=S3cret-PIN',
      "object=tsa-key&…: module-path (the PKCS#11 library) is required: the query (module-path, pin-source) follows a '?'",
    ],
    // A known attribute's value holding `pin-` is left out whole.
    ['pkcs11:token=tsa;object=pin-value=S3cret-PIN?module-name=m', 'pkcs11:token=tsa;object=…:'],
    // `;` where `&` belongs: the module's or the PIN file's path would run on into the PIN.
    [
      'pkcs11:token=tsa;object=k?module-path=/opt/hsm/libvendor.so;pin-value=S3cret-PIN',
      "module-path must be the library's path alone, without ';', '=' or 'pin-'",
    ],
    [
      'pkcs11:token=tsa;object=k?module-path=/x.so,pin-value:S3cret-PIN',
      "module-path must be the library's path alone",
    ],
    [
      'pkcs11:token=tsa;object=k?module-path=/x.so&pin-source=file:/run/pin;pin-value=S3cret-PIN',
      "pin-source must be the PIN file's path alone, without ';' or '='",
    ],
    // `&` where `?` belongs after type=: the refusal of the type does not repeat its value.
    [
      'pkcs11:token=tsa;object=k;type=private&module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=S3cret-PIN',
      "type=private&…: type is not private: the signer needs the private key (type=private); the query (module-path, pin-source) follows a '?'",
    ],
    [
      'pkcs11:token=tsa;object=k;type=private%26pin-value=S3cret-PIN?module-path=/x.so',
      'pkcs11:token=tsa;object=k;type=…: type is not private',
    ],
    // `pin-` percent-encoded is left out of the display too.
    ['pkcs11:token=tsa;object=%70in-value=S3cret-PIN?module-name=m', 'pkcs11:token=tsa;object=…:'],
    // A PIN holding `&`: what follows it is not repeated as an unknown attribute's name.
    [
      'pkcs11:token=tsa;object=k?module-path=/x.so&pin-value=12&S3cret-PIN=34',
      'pkcs11:token=tsa;object=k: unknown attribute',
    ],
  ])('never shows a PIN misplaced in %s', (text, shown) => {
    let message = '';
    try {
      parsePkcs11Uri(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(shown);
    // Attribute names are lower-cased: the PIN is not there in either case.
    expect(message.toLowerCase()).not.toContain('s3cret-pin');
  });

  it('a module path that runs into a PIN fails before the module is loaded, without the PIN', async () => {
    const opening = createPkcs11Signer(
      'pkcs11:token=tsa;object=tsa-key?module-path=/opt/hsm/libvendor.so;pin-value=S3cret-PIN',
      'auto',
    );
    await expect(opening).rejects.toMatchObject({ code: 'URI_INVALID' });
    await expect(opening).rejects.toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('S3cret-PIN') }),
    );
  });

  it('shows the known path attributes as written', () => {
    expect(parsePkcs11Uri(`pkcs11:token=tsa;object=tsa-key;x-v=1?${MODULE}`).display).toBe(
      'pkcs11:token=tsa;object=tsa-key;x-v=…',
    );
  });

  it('reads pin-source as a file: URI or an absolute path, nothing else', () => {
    expect(pinSourcePath('file:///run/pin', 'u')).toBe('/run/pin');
    expect(pinSourcePath('file:/run/pin', 'u')).toBe('/run/pin');
    expect(pinSourcePath('file://localhost/run/pin', 'u')).toBe('/run/pin');
    expect(pinSourcePath('file://LOCALHOST/run/pin', 'u')).toBe('/run/pin');
    expect(pinSourcePath('/run/pin', 'u')).toBe('/run/pin');
    expect(() => pinSourcePath('env:PIN', 'u')).toThrow(/pin-source must be an absolute path/);
  });

  it.each([
    ['file:run/pin', /pin-source must be an absolute path/],
    ['run/pin', /pin-source must be an absolute path/],
    ['file://', /pin-source must be an absolute path/],
    ['file://localhost', /pin-source must be an absolute path/],
    ['file://localhostrun/pin', /pin-source must name a local file/],
    ['file://hsm.example/run/pin', /pin-source must name a local file/],
    ['file://run/pin', /pin-source must name a local file/],
  ])('refuses pin-source %s: relative, or on another host', (pinSource, message) => {
    expect(() => pinSourcePath(pinSource, 'pkcs11:object=k')).toThrow(message);
    try {
      pinSourcePath(pinSource, 'pkcs11:object=k');
    } catch (error) {
      expect((error as { code: string }).code).toBe('URI_INVALID');
    }
  });

  it('recognizes the scheme case-insensitively', () => {
    expect(isPkcs11Uri('PKCS11:object=k')).toBe(true);
    expect(isPkcs11Uri('/etc/tsa/key.pem')).toBe(false);
  });
});
