import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonNumber, JsonObject, JsonSyntaxError, parseJson } from '../../../src/tsp/json-value.js';

/** Our parser's value with numbers turned into JS numbers, to compare with JSON.parse. */
function plain(value: unknown): unknown {
  if (value instanceof JsonNumber) return Number(value.text);
  if (Array.isArray(value)) return value.map(plain);
  // A repeated name: JSON.parse keeps the last.
  if (value instanceof JsonObject)
    return Object.fromEntries(value.members.map(([k, v]) => [k, plain(v)]));
  return value;
}

describe('parseJson', () => {
  it('agrees with JSON.parse on any JSON text', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'small' }), (text) => {
        expect(plain(parseJson(text))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('keeps the exact text of large integers', () => {
    const value = parseJson('{"nonce": 123456789012345678901234567890}') as JsonObject;
    expect(value.members).toEqual([['nonce', new JsonNumber('123456789012345678901234567890')]]);
  });

  it('keeps __proto__ as a plain name', () => {
    const value = parseJson('{"__proto__": {"polluted": true}}') as JsonObject;
    expect(value.members).toEqual([['__proto__', new JsonObject([['polluted', true]])]]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it.each(['', '{', '{"a":1,}', '[1 2]', '01', '1.', '"\u0001"', '"\\x"', 'nul', '{"a":1} x'])(
    'refuses %j',
    (text) => {
      expect(() => parseJson(text)).toThrow(JsonSyntaxError);
    },
  );

  it('nests deeper than a 1 KiB request can (Go reads those), to a bound', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    expect(() => parseJson(nested(512))).not.toThrow();
    expect(() => parseJson(nested(1_002))).toThrow('nesting too deep');
  });

  it('keeps every occurrence of a repeated name, in document order', () => {
    const value = parseJson('{"a":1,"b":null,"a":"3"}') as JsonObject;
    expect(value.members).toEqual([
      ['a', new JsonNumber('1')],
      ['b', null],
      ['a', '3'],
    ]);
  });

  it('reads \\u escapes, surrogate pairs included, and the short escapes', () => {
    expect(parseJson('"caf\\u00e9 \\uD83D\\ude00"')).toBe('café 😀');
    expect(parseJson('"\\"\\\\\\/\\b\\f\\n\\r\\t"')).toBe('"\\/\b\f\n\r\t');
  });

  it.each([
    ['"\\u12G4"', 'bad \\u escape at offset 1'],
    ['"\\u12"', 'bad \\u escape at offset 1'],
    ['"a\\', 'bad escape at offset 2'],
    ['"abc', 'unterminated string or control character at offset 4'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseJson(text)).toThrow(new JsonSyntaxError('INVALID_JSON', message));
  });
});
