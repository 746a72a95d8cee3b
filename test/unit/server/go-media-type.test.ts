import { describe, expect, it } from 'vitest';
import { contentTypeParseRefusal, goMediaTypeError } from '../../../src/server/go-media-type.js';

/** Go 1.24's mime.ParseMediaType, read from its source (mediatype.go) and its tests. */
describe("goMediaTypeError: Go's mime.ParseMediaType", () => {
  it.each([
    'application/timestamp-query',
    'APPLICATION/JSON',
    '  application/json  ',
    'text',
    'application/json; charset=utf-8',
    'application/json;charset="utf-8"',
    'a/b; x=1; x=1',
    'a/b; x=""',
    'a/b ; x = 1 ;',
    'a/b;',
    'a/b; x="a\\b"',
    'a/b; x="\\""',
    "a/b; name*=utf-8''%E2%82%AC; name*0=a",
    'a/b\t;\tx=1',
  ])('accepts %j', (contentType) => {
    expect(goMediaTypeError(contentType)).toBeUndefined();
  });

  it.each([
    ['', 'mime: no media type'],
    ['/', 'mime: no media type'],
    [';', 'mime: no media type'],
    ['a b', 'mime: expected slash after first token'],
    ['application/', 'mime: expected token after slash'],
    ['a/b/c', 'mime: unexpected content after media subtype'],
    ['application/json, text/plain', 'mime: unexpected content after media subtype'],
    ['a/b\u00a0', 'mime: unexpected content after media subtype'],
    ['a/b;;;', 'mime: invalid media parameter'],
    ['a/b; ;;', 'mime: invalid media parameter'],
    ['a/b; ; ', 'mime: invalid media parameter'],
    ['a/b; charset', 'mime: invalid media parameter'],
    ['a/b; x=', 'mime: invalid media parameter'],
    ['a/b; x=1 y=2', 'mime: invalid media parameter'],
    ['a/b; x="open', 'mime: invalid media parameter'],
    ['a/b; x="a\\"', 'mime: invalid media parameter'],
    ['a/b; x="a\nb"', 'mime: invalid media parameter'],
    ['a/b; x=é', 'mime: invalid media parameter'],
    ['a/b; x=1; X=2', 'mime: duplicate parameter name'],
    ['a/b; x="1"; x=2', 'mime: duplicate parameter name'],
  ])('refuses %j: %s', (contentType, reason) => {
    expect(goMediaTypeError(contentType)).toBe(reason);
  });
});

describe('contentTypeParseRefusal', () => {
  it("is go-openapi's ParseError message, the header quoted", () => {
    expect(contentTypeParseRefusal('a/b;;;')).toBe(
      'parsing Content-Type header from "a/b;;;" failed, because mime: invalid media parameter',
    );
  });

  it('leaves a missing or empty header to the 415 (Go reads it as application/octet-stream)', () => {
    expect(contentTypeParseRefusal(undefined)).toBeUndefined();
    expect(contentTypeParseRefusal('')).toBeUndefined();
    expect(contentTypeParseRefusal('application/json')).toBeUndefined();
  });

  it('quotes at most 100 characters of the header', () => {
    expect(contentTypeParseRefusal(`a/${'b'.repeat(200)};;`)).toBe(
      `parsing Content-Type header from "a/${'b'.repeat(98)}" failed, because mime: invalid media parameter`,
    );
  });
});
