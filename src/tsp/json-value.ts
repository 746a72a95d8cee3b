/**
 * A small strict JSON parser (RFC 8259) that keeps numbers as their source text, so an integer of
 * any size is read exactly (JSON.parse rounds above 2^53), and an object's members as a list in
 * document order, repeated names included, so a reader can apply each occurrence in turn as Go's
 * encoding/json does (and keys such as "__proto__" are plain data). Bounded by the caller's input
 * size and by MAX_DEPTH.
 */

import { CodedError } from '../errors.js';

export class JsonNumber {
  constructor(readonly text: string) {}
}

/** An object's members in document order, a name that is repeated once per occurrence. */
export class JsonObject {
  constructor(readonly members: readonly (readonly [name: string, value: JsonValue])[]) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

export class JsonSyntaxError extends CodedError<'INVALID_JSON'> {
  override name = 'JsonSyntaxError';
}

/**
 * Above what a 1 KiB request can nest (two bytes a level), so no request Go reads is refused for
 * its depth; Go's own limit, 10,000, would overflow this recursive parser's stack.
 */
const MAX_DEPTH = 1_000;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const STRING_CHUNK = /[^"\\\u0000-\u001f]*/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

export function parseJson(text: string): JsonValue {
  let position = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError('INVALID_JSON', `${what} at offset ${position}`);
  };
  const skipWhitespace = (): void => {
    while (position < text.length) {
      const c = text.charCodeAt(position);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      position++;
    }
  };
  const expect = (literal: string): void => {
    if (!text.startsWith(literal, position)) fail(`expected ${literal}`);
    position += literal.length;
  };

  const parseString = (): string => {
    position++; // opening quote
    let result = '';
    while (true) {
      STRING_CHUNK.lastIndex = position;
      // Always matches (possibly nothing): the pattern is sticky and may be empty.
      const chunk = (STRING_CHUNK.exec(text) as RegExpExecArray)[0];
      result += chunk;
      position += chunk.length;
      const c = text[position];
      if (c === '"') {
        position++;
        return result;
      }
      if (c !== '\\') return fail('unterminated string or control character');
      const escape = text[position + 1] ?? '';
      if (escape === 'u') {
        const hex = text.slice(position + 2, position + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        result += String.fromCharCode(parseInt(hex, 16));
        position += 6;
      } else {
        const decoded = ESCAPES[escape];
        if (decoded === undefined) fail('bad escape');
        result += decoded;
        position += 2;
      }
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipWhitespace();
    const c = text[position];
    switch (c) {
      case '{': {
        position++;
        const members: (readonly [string, JsonValue])[] = [];
        skipWhitespace();
        if (text[position] === '}') {
          position++;
          return new JsonObject(members);
        }
        while (true) {
          skipWhitespace();
          if (text[position] !== '"') fail('expected a key');
          const name = parseString();
          skipWhitespace();
          expect(':');
          members.push([name, parseValue(depth + 1)]);
          skipWhitespace();
          if (text[position] === ',') {
            position++;
            continue;
          }
          expect('}');
          return new JsonObject(members);
        }
      }
      case '[': {
        position++;
        const array: JsonValue[] = [];
        skipWhitespace();
        if (text[position] === ']') {
          position++;
          return array;
        }
        while (true) {
          array.push(parseValue(depth + 1));
          skipWhitespace();
          if (text[position] === ',') {
            position++;
            continue;
          }
          expect(']');
          return array;
        }
      }
      case '"':
        return parseString();
      case 't':
        expect('true');
        return true;
      case 'f':
        expect('false');
        return false;
      case 'n':
        expect('null');
        return null;
      default: {
        NUMBER.lastIndex = position;
        const match = NUMBER.exec(text);
        if (!match) return fail('unexpected character');
        position += match[0].length;
        return new JsonNumber(match[0]);
      }
    }
  };

  const value = parseValue(0);
  skipWhitespace();
  if (position !== text.length) fail('trailing characters');
  return value;
}
