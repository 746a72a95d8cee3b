import { describe, expect, it } from 'vitest';
import { DerSequenceReader, readExactly, Tag } from '../../../src/asn1/der.js';
import { encodeName } from '../../../src/x509/name.js';
import { X509Error } from '../../../src/x509/x509-error.js';

/** Each RDN's value: its tag and its text. */
function values(name: Buffer): [number, string][] {
  const rdns = new DerSequenceReader(readExactly(name, Tag.SEQUENCE).value);
  const out: [number, string][] = [];
  while (!rdns.done) {
    const attribute = new DerSequenceReader(
      readExactly(rdns.next(Tag.SET).value, Tag.SEQUENCE).value,
    );
    attribute.next(Tag.OID);
    const value = attribute.next();
    out.push([value.tag, Buffer.from(value.value).toString('utf8')]);
  }
  return out;
}

describe('encodeName (X.501 Name, X.520 DirectoryString values)', () => {
  it('writes O then CN, PrintableString where the text allows it, else UTF8String', () => {
    expect(
      values(encodeName({ organization: 'Example Org', commonName: 'Zeitstempel – TSA' })),
    ).toEqual([
      [Tag.PRINTABLE_STRING, 'Example Org'],
      [Tag.UTF8_STRING, 'Zeitstempel – TSA'],
    ]);
  });

  it.each([
    ['an empty CN', { commonName: '' }, 'empty 2.5.4.3 attribute in a name'],
    ['an empty O', { organization: '', commonName: 'TSA' }, 'empty 2.5.4.10 attribute in a name'],
    ['no attribute at all', {}, 'a name needs at least one attribute'],
  ])('refuses %s (DirectoryString is SIZE (1..ub))', (_what, name, message) => {
    expect(() => encodeName(name)).toThrow(X509Error);
    expect(() => encodeName(name)).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME', message }),
    );
  });
});
