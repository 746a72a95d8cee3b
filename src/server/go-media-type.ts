/**
 * Go's `mime.ParseMediaType` as a check: what go-openapi refuses with 400 before the Go server's
 * timestamp route runs (runtime.ContentType: `parsing Content-Type header from "…" failed, because
 * mime: …`), where this server would otherwise read the request (a bad parameter) or answer 415 (a
 * bad type). A port of Go 1.24's src/mime/mediatype.go, the parsing only: values are not decoded.
 * Header values reach Node as latin1, one character per byte, as Go's strings are bytes. Only
 * ASCII white space is trimmed: Go's `unicode.IsSpace` also trims the UTF-8 of U+0085, U+00A0 and
 * the like, which no client puts in a Content-Type.
 */

/** RFC 2045 tspecials, as Go's isTSpecial. */
const TSPECIALS = '()<>@,;:\\"/[]?=';

const isTokenChar = (code: number): boolean =>
  code > 0x20 && code < 0x7f && !TSPECIALS.includes(String.fromCharCode(code));

const isSpace = (code: number): boolean => code === 0x20 || (code >= 0x09 && code <= 0x0d);

/** The index of the first character at or after `at` that is not white space. */
function skipSpace(text: string, at: number): number {
  while (at < text.length && isSpace(text.charCodeAt(at))) at++;
  return at;
}

/** `text` without the white space at its ends (String.prototype.trim also trims U+00A0). */
function trimSpace(text: string): string {
  let end = text.length;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(skipSpace(text, 0), end);
}

/** The end of the token that starts at `at` (`at` itself when there is none). */
function tokenEnd(text: string, at: number): number {
  while (at < text.length && isTokenChar(text.charCodeAt(at))) at++;
  return at;
}

/** Go's checkMediaTypeDisposition: `type` or `type/subtype`, nothing else. */
function mediaTypeError(type: string): string | undefined {
  const end = tokenEnd(type, 0);
  if (end === 0) return 'mime: no media type';
  if (end === type.length) return undefined;
  if (type[end] !== '/') return 'mime: expected slash after first token';
  const subtypeEnd = tokenEnd(type, end + 1);
  if (subtypeEnd === end + 1) return 'mime: expected token after slash';
  if (subtypeEnd !== type.length) return 'mime: unexpected content after media subtype';
  return undefined;
}

/**
 * Go's consumeValue: a token or a quoted-string from `at`; the value (quoted-strings unescaped,
 * as Go does, so that duplicates compare as Go compares them) and where it ends, or undefined.
 */
function consumeValue(text: string, at: number): { value: string; end: number } | undefined {
  if (at >= text.length) return undefined;
  if (text[at] !== '"') {
    const end = tokenEnd(text, at);
    return end === at ? undefined : { value: text.slice(at, end), end };
  }
  let value = '';
  for (let i = at + 1; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '"') return { value, end: i + 1 };
    // Go keeps a backslash before anything but a tspecial (MSIE's unescaped file paths).
    if (char === '\\' && i + 1 < text.length && TSPECIALS.includes(text[i + 1] as string)) {
      value += text[++i];
      continue;
    }
    if (char === '\r' || char === '\n') return undefined;
    value += char;
  }
  return undefined;
}

/** Go's consumeMediaParam from `at`: `; name = value`, or undefined. */
function consumeParameter(
  text: string,
  at: number,
): { name: string; value: string; end: number } | undefined {
  let i = skipSpace(text, at);
  if (text[i] !== ';') return undefined;
  i = skipSpace(text, i + 1);
  const nameEnd = tokenEnd(text, i);
  if (nameEnd === i) return undefined;
  const name = text.slice(i, nameEnd).toLowerCase();
  i = skipSpace(text, nameEnd);
  if (text[i] !== '=') return undefined;
  const value = consumeValue(text, skipSpace(text, i + 1));
  return value && { name, value: value.value, end: value.end };
}

/**
 * Why Go's `mime.ParseMediaType` refuses `contentType` (its error's text), or undefined when it
 * parses. Trailing semicolons are allowed, as are repeated parameters with equal values; RFC 2231
 * names (`name*`, `name*0`) are their own names, as in Go.
 */
export function goMediaTypeError(contentType: string): string | undefined {
  const semicolon = contentType.indexOf(';');
  const base = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  const typeError = mediaTypeError(trimSpace(base).toLowerCase());
  if (typeError) return typeError;
  const seen = new Map<string, string>();
  let at = base.length;
  for (;;) {
    at = skipSpace(contentType, at);
    if (at === contentType.length) return undefined;
    const parameter = consumeParameter(contentType, at);
    if (!parameter) {
      return trimSpace(contentType.slice(at)) === ';' ? undefined : 'mime: invalid media parameter';
    }
    const earlier = seen.get(parameter.name);
    if (earlier !== undefined && earlier !== parameter.value)
      return 'mime: duplicate parameter name';
    seen.set(parameter.name, parameter.value);
    at = parameter.end;
  }
}

/**
 * go-openapi's 400 message for a Content-Type Go cannot parse (runtime.ContentType's ParseError),
 * or undefined for one it can. An empty one is Go's default, application/octet-stream: 415.
 */
export function contentTypeParseRefusal(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const reason = goMediaTypeError(contentType);
  return (
    reason &&
    `parsing Content-Type header from ${JSON.stringify(contentType.slice(0, 100))} failed, because ${reason}`
  );
}
